"""Imports every domain's models so the metadata (and Alembic) sees all tables."""

from .accounts import models as accounts_models  # noqa: F401
from .antifraud import models as antifraud_models  # noqa: F401
from .api import models as api_models  # noqa: F401
from .contests import models as contests_models  # noqa: F401
from .judging import models as judging_models  # noqa: F401
from .media import models as media_models  # noqa: F401
from .results import models as results_models  # noqa: F401
from .voting import models as voting_models  # noqa: F401
