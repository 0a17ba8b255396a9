import Store

/// Whose work a row is, seen from this node: the one rule every take-over uses (sends, receives,
/// voice calls). A row of this node, or with no node (written before nodes existed), is this
/// node's to recover when `own`; another node's is to take over when that node is not alive.
struct NodeOwnership: Sendable {
    let me: String
    /// Nodes whose heartbeat is current (this one may be among them).
    let alive: Set<String>

    func isCutOff(_ owner: String?, own: Bool) -> Bool {
        guard let owner, owner != me else { return own }
        return !alive.contains(owner)
    }
}
