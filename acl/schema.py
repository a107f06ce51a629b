"""Every table of every wing on one metadata (`acl.db.Base.metadata`): what Alembic compares
and `create_all` builds. Importing this module is enough to register them all."""

from acl.calendar import models as calendar  # noqa: F401
from acl.db import Base
from acl.documents import models as documents  # noqa: F401
from acl.events import models as events  # noqa: F401
from acl.invoicing import models as invoicing  # noqa: F401
from acl.messaging import models as messaging  # noqa: F401
from acl.people import models as people  # noqa: F401
from acl.rights import models as rights  # noqa: F401

metadata = Base.metadata
