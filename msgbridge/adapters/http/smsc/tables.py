"""SMSC.ru's tables: error codes, statuses, delivery errors, reply columns and limits (every row tested).

The same numbers mean different things in send/status replies and in the
contacts API (SMSC.ru's page "Контакты и группы. Ответ сервера и коды
ошибок"), so there are two error tables.
"""

from __future__ import annotations

from msgbridge.core.errors import ErrorCode
from msgbridge.core.status import DeliveryStatus

DEFAULT_HOST = "smsc.ru"
# The currency of a send answer's ``cost`` (it names none): smsc.ru accounts are billed in roubles.
DEFAULT_CURRENCY = "RUB"
# The official library falls back to these when the main host fails.
BACKUP_HOSTS: tuple[str, ...] = ("www2.smsc.ru",)

# send.php / status.php / balance.php error codes -> ours.
ERRORS: dict[int, ErrorCode] = {
    1: ErrorCode.INVALID_ARGUMENT,  # parameter error
    2: ErrorCode.AUTH_FAILED,  # bad login/password (or IP not on the allow-list)
    3: ErrorCode.INSUFFICIENT_FUNDS,
    4: ErrorCode.THROTTLED,  # IP temporarily blocked after frequent erroneous requests
    5: ErrorCode.INVALID_ARGUMENT,  # bad date format
    6: ErrorCode.PERMANENT_FAILURE,  # message prohibited (text or sender name)
    7: ErrorCode.INVALID_DESTINATION,  # bad phone format
    8: ErrorCode.INVALID_DESTINATION,  # cannot be delivered to this number
    9: ErrorCode.DUPLICATE,  # identical request repeated within a minute
}

# status.php gives error 9 another meaning: "Попытка отправки более пяти запросов на получение
# статуса одного и того же сообщения или более одного массового запроса в течение минуты."
# (more than five status requests for the same message, or more than one mass request, within
# a minute). There it is a rate limit: THROTTLED, to be asked again once the minute is over.
# Only the rows where status.php differs from ERRORS.
STATUS_ERRORS: dict[int, ErrorCode] = {9: ErrorCode.THROTTLED}
STATUS_LIMIT_WINDOW = 60.0
# "...при попытке отправки пяти и более запросов одновременно ... под одним логином": fewer at once.
MAX_CONCURRENT_REQUESTS = 4

# Contacts and groups ("Контакты и группы. Ответ сервера и коды ошибок").
CONTACT_ERRORS: dict[int, ErrorCode] = {
    1: ErrorCode.INVALID_ARGUMENT,  # Ошибка в параметрах
    2: ErrorCode.AUTH_FAILED,  # Неверный логин или пароль / IP not allowed
    3: ErrorCode.NOT_FOUND,  # Записи не найдены
    4: ErrorCode.THROTTLED,  # IP-адрес временно заблокирован
    5: ErrorCode.TEMPORARY_FAILURE,  # Ошибка выполнения операции
    9: ErrorCode.THROTTLED,  # >3 identical requests a minute, or 15+ concurrent ones
}

# status.php "status" -> ours.
STATUSES: dict[int, DeliveryStatus] = {
    -3: DeliveryStatus.UNKNOWN,  # message not found: the id is not known (stop polling)
    -2: DeliveryStatus.CANCELED,  # stopped
    -1: DeliveryStatus.QUEUED,  # waiting to be sent
    0: DeliveryStatus.SUBMITTED,  # handed to the operator
    1: DeliveryStatus.DELIVERED,
    2: DeliveryStatus.DELIVERED,  # read (only after delivery)
    3: DeliveryStatus.EXPIRED,
    4: DeliveryStatus.DELIVERED,  # link clicked (only after delivery)
    20: DeliveryStatus.UNDELIVERABLE,  # impossible to deliver
    22: DeliveryStatus.UNDELIVERABLE,  # invalid number
    23: DeliveryStatus.REJECTED,  # prohibited
    24: DeliveryStatus.REJECTED,  # insufficient funds
    25: DeliveryStatus.UNDELIVERABLE,  # unavailable number
}

# status.php "err": why a message was not delivered.
DELIVERY_ERRORS: dict[int, tuple[ErrorCode, str]] = {
    1: (ErrorCode.INVALID_DESTINATION, "subscriber does not exist"),
    6: (ErrorCode.TEMPORARY_FAILURE, "subscriber offline"),
    11: (ErrorCode.PERMANENT_FAILURE, "cannot accept SMS"),
    12: (ErrorCode.PERMANENT_FAILURE, "phone or SIM error"),
    13: (ErrorCode.PERMANENT_FAILURE, "subscriber blocked"),
    21: (ErrorCode.UNSUPPORTED, "no SMS support"),
    219: (ErrorCode.PERMANENT_FAILURE, "SIM replaced"),
    220: (ErrorCode.QUEUE_FULL, "operator queue overflow"),
}

# Positional columns of fmt=1 replies, per operation.
FMT1_COLUMNS: dict[str, tuple[str, ...]] = {
    "send": ("id", "cnt", "cost", "balance"),
    "status": ("status", "last_timestamp", "err"),
    "balance": ("balance",),
    "create": ("id",),
    "contacts": (
        "phone",
        "name",
        "group",
        "first_name",
        "last_name",
        "middle_name",
        "birthday",
        "id",
        "comments",
        "tags",
        "phone_other",
    ),
    "groups": ("id", "name", "number", "cnt"),
}

NATIVE_TEXT_LIMIT = 500
