import Foundation

/// PDFs made for tests that need a document with many pages or one that is slow to render:
/// every page shares one content stream of `lines` stroked lines (0: a blank page).
public enum SyntheticPDF {
    /// A valid PDF (with a correct xref table) of `pages` Letter pages.
    public static func make(pages: Int, lines: Int = 0) -> [UInt8] {
        var random = SystemRandomNumberGenerator()
        var content = ""
        content.reserveCapacity(lines * 24)
        for _ in 0..<lines {
            content += "\(Int.random(in: 0...600, using: &random)) \(Int.random(in: 0...780, using: &random)) m "
                + "\(Int.random(in: 0...600, using: &random)) \(Int.random(in: 0...780, using: &random)) l S\n"
        }
        var objects: [[UInt8]] = []
        objects.append(Array("<< /Type /Catalog /Pages 2 0 R >>".utf8))
        let kids = (0..<pages).map { "\($0 + 4) 0 R" }.joined(separator: " ")
        objects.append(Array("<< /Type /Pages /Kids [\(kids)] /Count \(pages) >>".utf8))
        objects.append(Array("<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream".utf8))
        for _ in 0..<pages { objects.append(Array("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R >>".utf8)) }
        var out = Array("%PDF-1.4\n".utf8)
        var offsets: [Int] = []
        for (index, object) in objects.enumerated() {
            offsets.append(out.count)
            out += Array("\(index + 1) 0 obj\n".utf8) + object + Array("\nendobj\n".utf8)
        }
        let xref = out.count
        out += Array("xref\n0 \(objects.count + 1)\n0000000000 65535 f \n".utf8)
        for offset in offsets { out += Array(String(format: "%010d 00000 n \n", offset).utf8) }
        out += Array("trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n".utf8)
        return out
    }
}
