from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class JobsConfig(AppConfig):
    name = "fangkong.jobs"
    verbose_name = _("Background jobs")

    def ready(self) -> None:
        # Each domain app declares its job handlers in its own jobs.py.
        autodiscover_modules("jobs")
