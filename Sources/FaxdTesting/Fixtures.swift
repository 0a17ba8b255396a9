import Foundation

/// Paths to the committed fixtures and scratch directories for tests.
public enum Fixtures {
    /// The repository root, found from this file's location (tests run from a source checkout).
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// `fixtures/NAME` in the repository.
    public static func path(_ name: String) -> String {
        root.appendingPathComponent("fixtures").appendingPathComponent(name).path
    }

    /// The 3-page fine-resolution text fixture every end-to-end test sends.
    public static var threePageFine: String { path("three-page-fine.tif") }

    /// faxd-bench's default document: a light cover page, one dense page (60 lines of 11-pt
    /// Courier, tens of KB as T.6) and a light last page, fine A4 (fixtures/bench-letter.ps).
    public static var benchLetter: String { path("bench-letter.tif") }

    /// Three short standard-resolution pages (a few text lines each): a real-socket fax of it
    /// takes seconds (fixtures/three-page-light.ps).
    public static var threePageLight: String { path("three-page-light.tif") }

    /// This test process's scratch root, `$TMPDIR/faxd-tests/<pid>`; roots of test processes that
    /// are no longer running are removed the first time it is used.
    static let scratchRoot: URL = {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("faxd-tests")
        let me = ProcessInfo.processInfo.processIdentifier
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: base.path) {
            for entry in entries {
                if let pid = Int32(entry), pid != me, kill(pid, 0) != 0 {
                    try? FileManager.default.removeItem(at: base.appendingPathComponent(entry))
                }
            }
        }
        return base.appendingPathComponent(String(me))
    }()

    /// A fresh empty directory under this process's scratch root.
    public static func scratchDirectory(_ label: String) -> String {
        let dir = scratchRoot.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }
}

extension JSONDecoder {
    /// Decodes faxd's JSON (ISO 8601 dates), e.g. a `FaxOutcome` printed by `faxd send`.
    public static var faxd: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
