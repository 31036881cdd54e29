from django.db import migrations, models


class Migration(migrations.Migration):
    """Environments that existed before remote runs keep executing locally
    (their TFE clients used them for state only); new ones run remotely."""

    dependencies = [
        ("environments", "0003_one_lock"),
    ]

    operations = [
        migrations.AddField(
            model_name="environment",
            name="execution_mode",
            field=models.CharField(default="local", max_length=8),
        ),
        migrations.AlterField(
            model_name="environment",
            name="execution_mode",
            field=models.CharField(
                choices=[
                    ("remote", "Remote: runs on this server's workers"),
                    ("local", "Local: Terraform runs where it is started; state only here"),
                ],
                default="remote",
                max_length=8,
            ),
        ),
            migrations.AddField(
            model_name='configurationversion',
            name='auto_queue_runs',
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name='configurationversion',
            name='speculative',
            field=models.BooleanField(default=False),
        ),
    
    ]
