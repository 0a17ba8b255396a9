import Fax
import Foundation
import Hashing
import Store

/// The facts faxd records about each page of a TIFF: size, resolution, compression and a SHA-256
/// of the decoded bitmap.
struct PageFacts: Sendable, Equatable {
    var width: Int
    var height: Int
    var xDPI: Int
    var yDPI: Int
    var compression: String
    var sha256: String

    /// The pages of `path` that can be read, in order. A file cut short by a crash yields the
    /// pages before the damage; a missing file yields none.
    static func read(_ path: String) -> (pages: [PageFacts], problem: String?) {
        guard FileManager.default.fileExists(atPath: path) else { return ([], "\(path): no file") }
        let document: TIFFDocument
        do { document = try TIFFDocument(path: path) } catch { return ([], error.reason) }
        var pages: [PageFacts] = []
        for index in 0..<document.pageCount {
            do {
                let image = try document.page(index)
                pages.append(PageFacts(width: image.width, height: image.height, xDPI: Int(image.xDPI.rounded()),
                                       yDPI: Int(image.yDPI.rounded()), compression: compressionName(image.compression),
                                       sha256: SHA256.hex(image.bits)))
            } catch {
                return (pages, "page \(index + 1): \(error.reason)")
            }
        }
        return (pages, nil)
    }

    /// TIFF Compression tag values by their ITU names.
    static func compressionName(_ tag: Int) -> String {
        switch tag {
        case 1: "none"
        case 2: "T.4 MH (RLE)"
        case 3: "T.4"
        case 4: "T.6"
        default: "tiff-\(tag)"
        }
    }

    /// SHA-256 of a whole file, hex; nil if it cannot be read.
    static func fileHash(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { SHA256.hex($0) }
    }
}

extension FaxPage {
    init(transmissionID: Int64, number: Int, facts: PageFacts, status: Status, at date: Date?) {
        self.init(transmissionID: transmissionID, pageNumber: number, status: status, width: facts.width, height: facts.height,
                  xResolution: facts.xDPI, yResolution: facts.yDPI, compression: facts.compression, sha256: facts.sha256,
                  transferredAt: date)
    }
}
