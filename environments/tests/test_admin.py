"""Django admin pages of environments: they render and never show values."""

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory
from environments.tests.factories import (
    ConfigurationVersionFactory,
    EnvironmentFactory,
    VariableFactory,
)

pytestmark = pytest.mark.django_db


def test_admin_pages_render_without_variable_values(personas):
    staff = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    variable = VariableFactory(environment=environment, key="pw", value="admin-never-sees")
    version = ConfigurationVersionFactory(environment=environment)
    urls = [
        "/admin/environments/environment/",
        f"/admin/environments/environment/{environment.pk}/change/",
        "/admin/environments/variable/",
        f"/admin/environments/variable/{variable.pk}/change/",
        "/admin/environments/configurationversion/",
        f"/admin/environments/configurationversion/{version.pk}/change/",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert "admin-never-sees" not in page
        assert variable.value_sealed not in page
        assert version.upload_secret_digest not in page
