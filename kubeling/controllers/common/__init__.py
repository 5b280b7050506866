"""Controller mechanics shared by the workload controllers (upstream pkg/controller's
controller_utils.go, controller_ref_manager.go and pkg/controller/history).

- `expectations`: ControllerExpectations / UIDTrackingExpectations as upstream, and a
  resource-version barrier that lets a sync wait until informers have seen its own writes.
- `refmanager`: ControllerRef adoption and release (ClaimPods, ClaimControllerRevisions, ...),
  and the informer index by controller uid that finds a controller's objects and orphans.
- `dependents`: which owner an informer event concerns (resolveControllerRef, the owners whose
  selector picks an orphan) and the add/update/delete handlers of dependents and owners, with
  upstream's per-controller differences (expectation hooks, terminating pods, minReadySeconds).
- `history`: ControllerRevision naming, hashing (byte-identical to upstream), equality,
  ordering, and the create-with-collision-handling / update / adopt / release calls; also
  `compute_hash` in the shape of controller.ComputeHash (pod-template-hash; not byte-identical).
- `podcontrol`: pod creation/deletion with events (RealPodControl), GetPodFromTemplate, and the
  slow-start batching of pod creations.
- `podutil`: pod state (ready, available, active) as every controller counts it.
- `errors`: aggregated errors (utilerrors.Aggregate).
"""
