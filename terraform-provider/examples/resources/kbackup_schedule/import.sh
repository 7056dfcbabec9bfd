# A schedule is imported by its name.
tofu import kbackup_schedule.prod_eu_nightly prod-eu-nightly
