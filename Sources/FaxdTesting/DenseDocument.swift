import ChildProcess
import Foundation
import Media
import Synchronization

/// A real, dense fax document made at run time: A4 pages of 60 lines of 11-point Courier with
/// seeded random text, rendered by Ghostscript to G4 TIFF at 204x196 (fine), as a user's scanned
/// letter would be. Not a fixture tuned to pass: one such page is tens of KB compressed, so a
/// single ECM block of it takes longer than T.38's silence timeout to send at 14,400 bit/s.
public enum DenseDocument {
    /// Made documents by "pages-seed", so a test process renders each once.
    private static let made = Mutex<[String: String]>([:])

    /// The path of a `pages`-page dense document (made on first use under the scratch root).
    public static func path(pages: Int, seed: UInt64 = 1) throws -> String {
        let key = "\(pages)-\(seed)"
        return try made.withLock { made in
            if let path = made[key], FileManager.default.fileExists(atPath: path) { return path }
            let path = try render(pages: pages, seed: seed, into: Fixtures.scratchDirectory("dense"))
            made[key] = path
            return path
        }
    }

    /// The PostScript of the document (one `showpage` per page).
    public static func postScript(pages: Int, seed: UInt64) -> String {
        var random = SplitMix64(seed: seed)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,;:-+=/ ")
        var ps = "%!PS\n/Courier findfont 11 scalefont setfont\n"
        for page in 1...pages {
            for line in 0..<60 {
                var text = line == 0 ? "Dense page \(page) of \(pages) " : ""
                while text.count < 80 { text.append(alphabet[Int(random.next() % UInt64(alphabet.count))]) }
                ps += "36 \(800 - line * 12) moveto (\(text)) show\n"
            }
            ps += "showpage\n"
        }
        return ps
    }

    static func render(pages: Int, seed: UInt64, into directory: String) throws -> String {
        let source = directory + "/dense.ps", output = directory + "/dense-\(pages).tif"
        try postScript(pages: pages, seed: seed).write(toFile: source, atomically: true, encoding: .utf8)
        let result = try ChildProcess.run("gs", ["-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=tiffg4",
                                                 "-r204x196", "-sPAPERSIZE=a4", "-sOutputFile=" + output, source])
        guard result.status == 0, FileManager.default.fileExists(atPath: output) else {
            throw ChildProcessError("gs could not render the dense document (exit \(result.status)): \(result.stderr)")
        }
        return output
    }
}
