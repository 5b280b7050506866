"""Per-kind REST behaviour tables the generic registry consults. The create/update strategies
themselves (status reset, generation, namespace finalizers, defaults) live in `defaults`."""
from __future__ import annotations

# Kinds whose DELETE returns the object instead of a Status (upstream ReturnDeletedObject).
RETURN_DELETED_OBJECT = {"pods", "persistentvolumeclaims", "persistentvolumes", "services", "serviceaccounts",
                         "storageclasses.storage.k8s.io"}

# Kinds where PUT of a missing object creates it (upstream AllowCreateOnUpdate).
CREATE_ON_UPDATE = {"endpoints", "events", "events.events.k8s.io", "leases.coordination.k8s.io"}
