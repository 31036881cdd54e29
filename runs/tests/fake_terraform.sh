#!/bin/sh
# A stand-in for Terraform in the worker tests. `terraform <command> ...`
# runs the configuration's own `<command>.sh` (init.sh, plan.sh, apply.sh)
# when the archive has one, with the same arguments; otherwise init and
# apply succeed quietly and plan writes a plan file (Terraform 0.11's magic
# and format version, then text) and reports one change.
command="$1"
shift
echo "fake terraform $command"
if [ -f "./$command.sh" ]; then
  exec /bin/sh "./$command.sh" "$@"
fi
if [ "$command" = plan ]; then
  for argument in "$@"; do
    case "$argument" in
      -out=*) printf 'tfplan\002fake plan\n' > "${argument#-out=}" ;;
    esac
  done
  echo "Plan: 1 to add, 0 to change, 0 to destroy."
  exit 2
fi
exit 0
