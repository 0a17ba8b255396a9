/// How a server file is named in messages that may reach a client (API errors, outcomes,
/// webhooks): its last path component, never the absolute path (which tells an attacker the
/// data directory's layout). Logs for the operator carry full paths separately.
public enum FileName {
    /// `"/srv/faxd/fax_files/tx/abc.tif"` -> `"abc.tif"`.
    public static func shown(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        let name = path[path.index(after: slash)...]
        return name.isEmpty ? "the file" : String(name)
    }
}
