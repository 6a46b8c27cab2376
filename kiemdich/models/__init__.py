"""The whole data model, one module per part of the domain."""
from .areas import AdminUnit, AreaLevel
from .audit import AuditEvent
from .checkpoints import Checkpoint, RetiredCheckpointCode
from .followup import Arrival, ArrivalEvent, ArrivalTrip, HealthCheck
from .imports import ImportAnalysis, ImportBatch, ImportJob, ImportProfile, ImportRow
from .notify import PushSubscription, SmsMessage
from .rules import Instruction, MonitoringRule
from .settings import PrivacyNotice, Setting
from .travel import Declaration, Passage, Person
from .users import SignInFailure, User, UserArea, UserCheckpoint, UserSession

__all__ = [
    "AdminUnit", "AreaLevel", "AuditEvent", "Checkpoint", "RetiredCheckpointCode", "Arrival",
    "ArrivalEvent", "ArrivalTrip", "HealthCheck", "ImportAnalysis", "ImportBatch", "ImportJob", "ImportProfile", "ImportRow",
    "Instruction", "MonitoringRule", "PrivacyNotice", "Setting", "Declaration", "Passage", "Person", "User",
    "UserArea", "UserCheckpoint", "UserSession", "SignInFailure", "PushSubscription", "SmsMessage",
]
