"""Controller mechanics shared by the workload controllers (upstream pkg/controller's
controller_utils.go, controller_ref_manager.go and pkg/controller/history).

- `expectations`: ControllerExpectations / UIDTrackingExpectations as upstream, and a
  resource-version barrier that lets a sync wait until informers have seen its own writes.
- `refmanager`: ControllerRef adoption and release (ClaimPods, ClaimControllerRevisions, ...),
  and the informer index by controller uid that finds a controller's objects and orphans.
- `history`: ControllerRevision naming, hashing (byte-identical to upstream), equality,
  ordering, and the create-with-collision-handling / update / adopt / release calls; also
  `compute_hash` in the shape of controller.ComputeHash (pod-template-hash; not byte-identical).
"""
