import Fax
import Foundation
import Media
import Multipart
import SIP

/// The parsers faxd runs on bytes from the network or from users, each as a fuzz target: it must
/// never crash, whatever the input (issue 9). Errors are fine; traps are findings.
enum FuzzTargets {
    static let all: [String: @Sendable (UnsafeRawBufferPointer) -> Void] = [
        "sdp": sdp, "udptl": udptl, "rtp": rtp, "multipart": multipart, "tiff": tiff, "sip-helpers": sipHelpers, "t30": t30,
    ]

    /// SDP offers (SDP/SDPParser.swift): parse, and when that succeeds, render and parse again.
    static func sdp(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let parsed = try? SessionDescription(parsing: text) else { return }
        _ = try? SessionDescription(parsing: parsed.render())
    }

    /// UDPTL datagrams through a decoder with redundancy and one expecting FEC (Media/UDPTL).
    static func udptl(_ bytes: UnsafeRawBufferPointer) {
        var redundancy = UDPTLDecoder()
        var fec = UDPTLDecoder(errorCorrection: .fec(span: 3, entries: 3))
        // Split the input into datagrams at each 0xFF 0xFF, so sequences of packets are explored.
        var start = 0
        let all = Array(bytes)
        for i in 0...all.count where i == all.count || (i + 1 < all.count && all[i] == 0xFF && all[i + 1] == 0xFF) {
            guard i >= start else { continue }  // "FF FF FF": the separators overlap
            let datagram = Array(all[start..<i])
            datagram.withUnsafeBytes { raw in
                try? redundancy.receive(raw) { _, ifp in _ = ifp.count }
                try? fec.receive(raw) { _, ifp in _ = ifp.count }
            }
            start = min(all.count, i + 2)
        }
        redundancy.flush { _, _ in }
        fec.flush { _, _ in }
    }

    /// RTP packets (Media/RTP.swift).
    static func rtp(_ bytes: UnsafeRawBufferPointer) {
        _ = RTPPacket.classify(bytes)
        _ = try? RTPPacket.parse(bytes)
    }

    /// multipart/form-data bodies (Multipart), with a boundary taken from the first line.
    static func multipart(_ bytes: UnsafeRawBufferPointer) {
        let all = Array(bytes)
        let split = all.firstIndex(of: 0x0A) ?? 0
        let boundary = String(decoding: all[0..<split], as: UTF8.self)
        guard !boundary.isEmpty else { return }
        _ = MultipartForm.boundary(contentType: "multipart/form-data; boundary=\(boundary)")
        _ = try? MultipartForm(body: Array(all[min(all.count, split + 1)...]), boundary: boundary)
    }

    /// TIFF files (Fax/TIFF, libtiff underneath): open, check, decode every page, coded strips.
    static func tiff(_ bytes: UnsafeRawBufferPointer) {
        let path = NSTemporaryDirectory() + "faxd-fuzz-\(getpid()).tif"
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { return }
        defer { unlink(path) }
        guard let document = try? TIFFDocument(path: path), document.pageCount < 20 else { return }
        _ = try? FaxDocumentCheck.sendablePages(path)
        for index in 0..<document.pageCount {
            guard let width = try? document.pageWidth(index), width <= 10_000 else { return }
            _ = try? document.page(index)
            _ = try? document.codedPage(index)
        }
    }

    /// Small SIP helpers that see far-end text: Warning header text, phone numbers, T.38 SDP attributes.
    static func sipHelpers(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        let warning = SIPWarning.header(text)
        precondition(!warning.contains("\r") && !warning.contains("\n"), "a Warning header carries a line break")
        _ = PhoneNumber.normalize(text)
        _ = SIPURI.host(text)
        _ = SIPURI.number(text)
        // The offer in a body: as multipart (SIP-I's SDP beside ISUP) and with an Accept list.
        _ = SIPEvent.offer(body: text, contentType: "multipart/mixed")
        _ = SIPEvent.offer(body: text, contentType: nil)
        _ = SIPEvent.refusesSDP(accept: text.split(separator: ",").map(String.init))
    }

    /// T.30 frames heard on V.21 (Fax/Lab/T30Frame.swift): names, capabilities, station ids.
    static func t30(_ bytes: UnsafeRawBufferPointer) {
        let frame = T30Frame(Array(bytes))
        _ = frame.name
        _ = frame.capabilities
        _ = frame.stationID
        _ = frame.fromReceiver
    }
}
