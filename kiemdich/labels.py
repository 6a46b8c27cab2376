"""Human labels of stored codes, as lazy translations shared by every template (Jinja globals).

They were `{% set %}` blocks imported "with context", which Jinja evaluates again at every import:
on the commune home that was ~50 translations per import and most of the template time. A lazy
string is translated when it is shown, in the request's language.
"""
from flask_babel import lazy_gettext as _l

ARRIVAL_STATUS = {
    "expected": _l("Expected"), "arrived": _l("Arrived"), "monitoring": _l("Under monitoring"),
    "completed": _l("Completed"), "ended_unchecked": _l("Ended without final check"),
    "lost_contact": _l("Lost contact"), "transferred": _l("Transferred"), "referred": _l("Referred"),
    "left_province": _l("Left the province"), "merged": _l("Merged into another follow-up")}
ROLE = {"admin": _l("Administrator"), "supervisor": _l("Supervisor"),
        "checkpoint": _l("Checkpoint staff"), "commune": _l("Commune health officer")}

# Declarations
VACCINATION = {"full": _l("Fully vaccinated"), "partial": _l("Partly vaccinated"), "none": _l("Not vaccinated"),
               "recovered": _l("Recovered within 6 months")}
ID_TYPE = {"cccd": _l("CCCD"), "cmnd": _l("CMND"), "passport": _l("Passport")}

# Follow-up
MEASURE = {"declaration_only": _l("Health declaration only"), "self_monitoring": _l("Self-monitoring at home"),
           "home_quarantine": _l("Home quarantine"), "central_quarantine": _l("Centralised quarantine")}
LIST = {"symptomatic": _l("With symptoms"), "expected": _l("Expected"), "due": _l("No check today"),
        "tests": _l("Tests today"), "monitoring": _l("Under monitoring"), "ending": _l("Ending today"),
        "unchecked": _l("Ended without final check")}
EMPTY = {"symptomatic": _l("Nobody has symptoms."), "expected": _l("Nobody is expected."),
         "due": _l("Everyone has been checked today."), "tests": _l("No test due today."),
         "monitoring": _l("Nobody is under monitoring."), "ending": _l("Nobody ends today."),
         "unchecked": _l("Nothing to decide.")}
SOURCE = {"visit": _l("Home visit"), "phone": _l("By phone"), "self": _l("Reported by the person")}
TEST_RESULT = {"": _l("No test"), "negative": _l("Negative"), "positive": _l("Positive"),
               "pending": _l("Awaiting result")}
EVENT = {"routed": _l("Routed to the commune"), "confirmed": _l("Arrival confirmed"),
         "completed": _l("Monitoring completed"), "ended_unchecked": _l("Ended without final check"),
         "closed": _l("Closed by the officer"), "extended": _l("Monitoring extended"),
         "plan_changed": _l("Plan changed"), "flagged": _l("Flagged: signs of illness"),
         "unflagged": _l("Flag cleared after a normal check"), "lost_contact": _l("Lost contact"),
         "left_province": _l("Left the province"), "referred": _l("Referred to a health facility"),
         "resumed": _l("Follow-up resumed"), "transferred_out": _l("Transferred to another commune"),
         "transferred_in": _l("Transferred from another commune"),
         "trip_linked": _l("New trip of the same person linked"),
         "merged_from": _l("A second follow-up of the same person merged into this one"),
         "merged_into": _l("Merged into the first follow-up of the same person")}
REASON = {"declaration_only": _l("The plan asks for the health declaration only."),
          "last_day_checked": _l("The last day's check was recorded."),
          "end_rule": _l("Rule: the last day is over."),
          "border_symptoms": _l("symptoms declared on entering the province")}

GLOBALS = {"ARRIVAL_STATUS": ARRIVAL_STATUS, "ROLE": ROLE, "VACCINATION": VACCINATION, "ID_TYPE": ID_TYPE,
           "MEASURE": MEASURE, "LIST": LIST, "EMPTY": EMPTY, "SOURCE": SOURCE, "TEST_RESULT": TEST_RESULT,
           "EVENT": EVENT, "REASON": REASON}
