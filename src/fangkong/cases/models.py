"""Cases, their classification history, and the contacts found around them.

A case belongs to the jurisdiction that handles it (where the person was when reported); a
contact belongs to the jurisdiction where the person is now, which is who must act on them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fangkong.batches import unchecked_reference


class Classification(models.TextChoices):
    SUSPECTED = "suspected", _("suspected case")
    CONFIRMED = "confirmed", _("confirmed case")
    ASYMPTOMATIC = "asymptomatic", _("asymptomatic infection")
    EXCLUDED = "excluded", _("excluded")


class Outcome(models.TextChoices):
    UNDER_TREATMENT = "under_treatment", _("under treatment")
    RECOVERED = "recovered", _("recovered")
    DIED = "died", _("died")


class Case(models.Model):
    number = models.CharField(_("case number"), max_length=32, unique=True)
    person = models.ForeignKey(
        "people.Person", verbose_name=_("person"), on_delete=models.PROTECT, related_name="+"
    )
    jurisdiction = models.ForeignKey(
        "geo.Jurisdiction",
        verbose_name=_("reporting jurisdiction"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # covered by (jurisdiction, id)
    )
    classification = models.CharField(
        _("classification"), max_length=16, choices=Classification.choices
    )
    onset_date = models.DateField(_("symptom onset"), null=True, blank=True)
    sampled_date = models.DateField(_("first positive sample"), null=True, blank=True)
    reported_at = models.DateTimeField(_("reported at"))
    isolated_at = models.DateTimeField(_("isolated at"), null=True, blank=True)
    window_start = models.DateTimeField(_("infectious window from"))
    protocol = models.CharField(_("protocol edition"), max_length=8)
    isolation_place = models.CharField(_("hospital or isolation place"), max_length=200, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.UNDER_TREATMENT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        indexes = [models.Index(fields=["jurisdiction", "id"], name="case_jurisdiction_id")]

    def __str__(self) -> str:
        return self.number

    @property
    def window_end(self):
        """Isolation ends the window; until then the case may still be exposing others."""
        return self.isolated_at


class CaseEvent(models.Model):
    """Reclassifications and other changes of a case, oldest first."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    field = models.CharField(max_length=32)
    old = models.CharField(max_length=200, blank=True)
    new = models.CharField(max_length=200, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.field}: {self.old} -> {self.new}"


class Degree(models.IntegerChoices):
    # Lower is closer: a person found both ways is kept at the lowest degree.
    CLOSE = 1, _("close contact")
    SECONDARY = 2, _("secondary contact")
    COMPANION = 3, _("spatio-temporal companion")


class ContactStatus(models.TextChoices):
    TO_LOCATE = "to_locate", _("to locate")
    LOCATED = "located", _("located")
    QUARANTINED = "quarantined", _("quarantined")
    RELEASED = "released", _("released")
    BECAME_CASE = "became_case", _("became a case")


class Contact(models.Model):
    """One record per person: every exposure that made them a contact hangs below it."""

    # Contacts, their exposures and assistance items are what a tracing run writes by the
    # million, set-wise (cases/bulk_contacts.py, cases/assist.py): their references are not
    # checked row by row by the database (fangkong.batches.unchecked_reference says why and
    # what keeps them right; tests/platform/test_cases.py checks deletes are still guarded).
    person = unchecked_reference(
        "people.Person", verbose_name=_("person"), one_to_one=True, db_index=True
    )
    jurisdiction = unchecked_reference(  # indexed by contact_status
        "geo.Jurisdiction", verbose_name=_("current jurisdiction")
    )
    degree = models.PositiveSmallIntegerField(_("degree"), choices=Degree.choices)
    case = unchecked_reference(
        Case, verbose_name=_("source case"), related_name="contacts", db_index=True
    )
    last_exposure = models.DateTimeField(_("last exposure"))
    status = models.CharField(
        _("status"), max_length=16, choices=ContactStatus.choices, default=ContactStatus.TO_LOCATE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        # One index led by the jurisdiction serves every scoped list (a subtree is a range of
        # codes, so neither index could give the id order): a second one on (jurisdiction, id)
        # cost 0.4 s of every 100,000 contacts a tracing run inserts, and list pages over a
        # million contacts took the same milliseconds without it (docs/benchmarks.md).
        indexes = [models.Index(fields=["jurisdiction", "status", "id"], name="contact_status")]

    def __str__(self) -> str:
        return f"{self.person} ({self.get_degree_display()})"


class ExposureSource(models.TextChoices):
    TRACING = "tracing", _("tracing run")
    MANUAL = "manual", _("entered by a tracer")
    NAMED_BY_CASE = "named", _("named by the case")


class Exposure(models.Model):
    """One contact event: who, through whom, where, when, how long."""

    # Unchecked references: see Contact.
    contact = unchecked_reference(  # indexed by exposure_unique
        Contact, models.CASCADE, related_name="exposures"
    )
    # No index on the case or the venue: nothing looks exposures up by either but the ORM's
    # PROTECT check when a case or venue is deleted (rare; a scan then). The two indexes cost
    # ~1 s of every 100,000 exposures a tracing run inserts (docs/benchmarks.md).
    case = unchecked_reference(Case)
    via_person = unchecked_reference("people.Person")
    degree = models.PositiveSmallIntegerField(choices=Degree.choices)
    venue = unchecked_reference("venues.Venue", null=True, blank=True)
    place = models.CharField(_("place"), max_length=200, blank=True)
    start = models.DateTimeField(_("exposure start"))
    end = models.DateTimeField(_("exposure end"))
    source = models.CharField(max_length=16, choices=ExposureSource.choices)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="exposure_order"
            ),
            models.UniqueConstraint(
                fields=["contact", "via_person", "venue", "start"], name="exposure_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} via {self.via_person_id} {self.start:%Y-%m-%d %H:%M}"

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


class CaseCounter(models.Model):
    """Last case number used per county and year (numbers are never reused)."""

    prefix = models.CharField(max_length=16, primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.prefix}: {self.last}"


class RequestState(models.TextChoices):
    SENT = "sent", _("sent")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    COMPLETED = "completed", _("completed")


class AssistanceRequest(models.Model):
    """区域协查: people found by one jurisdiction who are now in another, pushed to it to locate
    and control, with every step time-stamped so either side can see what is late."""

    number = models.CharField(_("request number"), max_length=40, unique=True)
    from_jurisdiction = models.ForeignKey(
        "geo.Jurisdiction", verbose_name=_("from"), on_delete=models.PROTECT, related_name="+"
    )
    to_jurisdiction = models.ForeignKey(
        "geo.Jurisdiction", verbose_name=_("to"), on_delete=models.PROTECT, related_name="+"
    )
    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="+", null=True
    )
    state = models.CharField(
        _("status"), max_length=16, choices=RequestState.choices, default=RequestState.SENT
    )
    sent_at = models.DateTimeField(_("sent at"))
    acknowledge_by = models.DateTimeField(_("acknowledge by"))
    complete_by = models.DateTimeField(_("complete by"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    # A push from a higher level (上级协查推送) is split down the tree: each part names its parent,
    # and the parent is complete when every part is.
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, related_name="parts", null=True, blank=True
    )
    source = models.CharField(_("source"), max_length=100, blank=True)  # the pushing authority
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )

    class Meta:
        verbose_name = _("assistance request")
        verbose_name_plural = _("assistance requests")
        indexes = [
            models.Index(fields=["to_jurisdiction", "state"], name="assist_to"),
            models.Index(fields=["from_jurisdiction", "state"], name="assist_from"),
        ]

    def __str__(self) -> str:
        return self.number


class ItemState(models.TextChoices):
    PENDING = "pending", _("to locate")
    LOCATED = "located", _("located")
    CONTROLLED = "controlled", _("under control")
    NOT_FOUND = "not_found", _("not found")
    ELSEWHERE = "elsewhere", _("not in this jurisdiction")


class AssistanceItem(models.Model):
    # Unchecked references: see Contact. (request, person) is indexed by assist_item_once; the
    # person and the contact alone are not (as Exposure's case and venue: only a delete's
    # PROTECT check looks items up by them, and a dense outbreak pushes ~800,000 items).
    request = unchecked_reference(AssistanceRequest, models.CASCADE, related_name="items")
    person = unchecked_reference("people.Person")
    contact = unchecked_reference(Contact, null=True)
    exposure = models.CharField(_("exposure"), max_length=300, blank=True)
    state = models.CharField(
        _("status"), max_length=12, choices=ItemState.choices, default=ItemState.PENDING
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["request", "person"], name="assist_item_once")
        ]

    def __str__(self) -> str:
        return f"{self.request_id}/{self.person_id} {self.state}"


class AssistanceEvent(models.Model):
    request = models.ForeignKey(AssistanceRequest, on_delete=models.CASCADE, related_name="events")
    item = models.ForeignKey(AssistanceItem, on_delete=models.CASCADE, null=True, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    kind = models.CharField(max_length=16)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.request_id} {self.kind} at {self.at}"


class RunState(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class TracingRun(models.Model):
    """One run of the tracing engine over index cases' windows, with its parameters and outcome."""

    cases = models.ManyToManyField(Case, related_name="tracing_runs")
    jurisdiction = models.ForeignKey(
        "geo.Jurisdiction", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    min_overlap_s = models.PositiveIntegerField(_("minimum overlap (seconds)"))
    hops = models.PositiveSmallIntegerField(_("hops"), default=2)
    state = models.CharField(max_length=8, choices=RunState.choices, default=RunState.QUEUED)
    stage = models.CharField(max_length=100, blank=True)
    counts = models.JSONField(default=dict)  # close / secondary / rows pulled / requests ...
    report = models.JSONField(default=dict)  # the engine's repairs and timings
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["jurisdiction", "id"], name="tracing_run_jurisdiction")]

    def __str__(self) -> str:
        return f"tracing run {self.pk} ({self.state})"


class Investigation(models.Model):
    """流调报告: one structured investigation per case, written in sections, each due a fixed
    time after the case was reported (the rules and their sources: cases/investigations.py)."""

    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="investigation")
    investigator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("investigator"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    occupation = models.CharField(_("occupation"), max_length=100, blank=True)
    workplace = models.CharField(_("workplace or school"), max_length=200, blank=True)
    symptoms = models.CharField(_("symptoms and course"), max_length=500, blank=True)
    summary = models.TextField(_("summary"), blank=True)
    # Due times are stored, not recomputed: a later change of the rules leaves the deadlines a
    # tracer was given as they were, and lists filter on them with an index.
    deadline_rules = models.CharField(max_length=16)
    core_due = models.DateTimeField(_("core information due"))
    itinerary_due = models.DateTimeField(_("itinerary due"))
    contacts_due = models.DateTimeField(_("contacts due"))
    report_due = models.DateTimeField(_("full report due"))
    core_submitted_at = models.DateTimeField(_("core information submitted"), null=True)
    itinerary_submitted_at = models.DateTimeField(_("itinerary submitted"), null=True)
    contacts_submitted_at = models.DateTimeField(_("contacts submitted"), null=True)
    report_submitted_at = models.DateTimeField(_("full report submitted"), null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("investigation")
        verbose_name_plural = _("investigations")
        indexes = [models.Index(fields=["report_due"], name="investigation_report_due")]

    def __str__(self) -> str:
        return f"investigation of case {self.case_id}"


class TravelMode(models.TextChoices):
    WALK = "walk", _("on foot")
    BICYCLE = "bicycle", _("bicycle or e-bike")
    CAR = "car", _("own car")
    TAXI = "taxi", _("taxi or ride-hailing")
    BUS = "bus", _("bus")
    METRO = "metro", _("metro")
    TRAIN = "train", _("train")
    PLANE = "plane", _("plane")
    OTHER = "other", _("other")


class ItineraryEntry(models.Model):
    """A place the case was, as they told it: a platform venue (then it takes part in tracing
    runs like a check-in) or a described place with the jurisdiction it lies in."""

    investigation = models.ForeignKey(
        Investigation, on_delete=models.CASCADE, related_name="itinerary"
    )
    person = models.ForeignKey(  # the case's person, kept here so tracing pulls by person
        "people.Person", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    venue = models.ForeignKey(
        "venues.Venue",
        verbose_name=_("venue"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    place = models.CharField(_("place"), max_length=200, blank=True)
    place_jurisdiction = models.ForeignKey(
        "geo.Jurisdiction",
        verbose_name=_("jurisdiction of the place"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    t_in = models.DateTimeField(_("time in"))
    t_out = models.DateTimeField(_("time out"), null=True, blank=True)
    travel = models.CharField(_("how they travelled"), max_length=10, choices=TravelMode.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    outside_window = models.BooleanField(default=False)  # kept, shown with a warning

    class Meta:
        ordering = ["t_in", "id"]
        indexes = [models.Index(fields=["person", "t_in"], name="itinerary_person_t_in")]

    def __str__(self) -> str:
        return f"{self.investigation_id} {self.t_in:%Y-%m-%d %H:%M}"


class SourceKind(models.TextChoices):
    CASE = "case", _("a known case")
    PERSON = "person", _("a known person")
    SETTING = "setting", _("a described setting")


class LikelySource(models.Model):
    """An exposure the case may have been infected by (溯源): a case, a person or a setting."""

    investigation = models.ForeignKey(
        Investigation, on_delete=models.CASCADE, related_name="sources"
    )
    kind = models.CharField(_("kind"), max_length=8, choices=SourceKind.choices)
    source_case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    source_person = models.ForeignKey(
        "people.Person", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    description = models.CharField(_("description"), max_length=300, blank=True)
    exposed_at = models.DateTimeField(_("exposed at"), null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.investigation_id} {self.kind}"


class NamedContact(models.Model):
    """Someone the case named. Matched to the register by ID number; a matched one can be
    recorded as a contact (deduplicated per person by the contact actions)."""

    investigation = models.ForeignKey(
        Investigation, on_delete=models.CASCADE, related_name="named_contacts"
    )
    name = models.CharField(_("name"), max_length=100)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    doc_number = models.CharField(_("ID number"), max_length=40, blank=True)  # as normalised
    doc_problem = models.CharField(max_length=300, blank=True)  # why the number did not parse
    relation = models.CharField(_("relation or setting"), max_length=100, blank=True)
    exposed_from = models.DateTimeField(_("exposure start"), null=True, blank=True)
    exposed_to = models.DateTimeField(_("exposure end"), null=True, blank=True)
    person = models.ForeignKey(
        "people.Person", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.investigation_id} {self.name}"
