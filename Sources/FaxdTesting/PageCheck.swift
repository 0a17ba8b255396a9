import Fax

/// Compares a received TIFF with the document that was sent, page by page.
public enum PageCheck {
    /// Returns a list of problems; empty when every page decodes to the same bitmap.
    public static func compare(sent: String, received: String) -> [String] {
        do {
            return try compare(sentPages: TIFFDocument(path: sent).pages(), received: received)
        } catch {
            return ["\(error)"]
        }
    }

    /// The same against pages decoded once (a benchmark checks thousands of received faxes).
    public static func compare(sentPages a: [FaxPageImage], received: String) -> [String] {
        do {
            let b = try TIFFDocument(path: received).pages()
            var problems: [String] = []
            if a.count != b.count { problems.append("sent \(a.count) pages, received \(b.count)") }
            for (index, (x, y)) in zip(a, b).enumerated() {
                if x.width != y.width || x.height != y.height {
                    problems.append("page \(index + 1): \(x.width)x\(x.height) sent, \(y.width)x\(y.height) received")
                }
                let differing = x.differingRows(from: y)
                if differing > 0 { problems.append("page \(index + 1): \(differing) rows differ") }
            }
            return problems
        } catch {
            return ["\(error)"]
        }
    }
}

/// Page count of a TIFF, for tests.
public enum TIFFPageCount {
    public static func of(_ path: String) throws -> Int { try TIFFDocument(path: path).pageCount }
}
