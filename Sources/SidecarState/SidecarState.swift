/// The state document: JSON Pointer and JSONPath addressing, JSON Patch and Merge Patch,
/// revisions, history and subscriptions (issue 4). Filled in slice by slice.
enum SidecarState {}
