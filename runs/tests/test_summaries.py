"""What a person reads first about a run: the first error and the plan's line."""

from runs.summaries import first_error, headline, result_line

TERRAFORM_0_11 = """\
Refreshing Terraform state in-memory prior to plan...

Error: Error running plan: 1 error(s) occurred:

* output.x: Resource 'aws_instance.web' does not have attribute 'ip'

[atlas] terraform plan failed (exit status 1).
"""

TERRAFORM_1_X = """\
Initializing the backend...
╷
│ Error: Unsupported argument
│
│   on main.tf line 3, in resource "null_resource" "x":
│    3:   foo = 1
│
│ An argument named "foo" is not expected here.
╵
╷
│ Error: A second one
╵
"""


def test_the_first_error_block_of_terraform_0_11_stops_at_our_own_lines():
    assert first_error(TERRAFORM_0_11) == (
        "Error: Error running plan: 1 error(s) occurred:\n\n"
        "* output.x: Resource 'aws_instance.web' does not have attribute 'ip'"
    )


def test_the_first_error_block_of_terraform_1_x_loses_its_frame_and_the_errors_after_it():
    block = first_error(TERRAFORM_1_X)
    assert block.startswith("Error: Unsupported argument\n\n  on main.tf line 3")
    assert block.endswith('An argument named "foo" is not expected here.')
    assert "A second one" not in block and "│" not in block


def test_a_log_without_an_error_has_no_error_block():
    assert first_error("Plan: 1 to add, 0 to change, 0 to destroy.\n[atlas] Error: ours\n") == ""


def test_the_headline_is_a_few_short_lines():
    assert headline(first_error(TERRAFORM_0_11)) == (
        "Error: Error running plan: 1 error(s) occurred:\n"
        "* output.x: Resource 'aws_instance.web' does not have attribute 'ip'"
    )
    assert len(headline("Error: " + "x" * 1000)) == 300


def test_the_result_line_is_the_last_plan_or_apply_line():
    log = "Plan: 1 to add, 0 to change, 0 to destroy.\nApply complete! Resources: 1 added.\n"
    assert result_line(log) == "Apply complete! Resources: 1 added."
    assert result_line("nothing\n") == ""
