from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PeopleConfig(AppConfig):
    name = "fangkong.people"
    verbose_name = _("People")

    def ready(self) -> None:
        # `person__any=ids` (fangkong.batches.AnyOf): every app filters by people.
        from fangkong.batches import register_lookups

        register_lookups()
