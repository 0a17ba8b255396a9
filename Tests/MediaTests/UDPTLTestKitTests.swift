import Testing
@testable import Media

/// Helpers shared by the UDPTL test files (this file holds no tests of its own).
enum UDPTLTestKit {
    struct Delivery: Equatable, CustomStringConvertible {
        var seq: UInt16
        var bytes: [UInt8]
        var description: String { "\(seq):\(bytes.count)B" }
    }

    /// T.38 IFPs as spandsp 0.0.6 encodes them (version >= 1 grammar).
    static let indicatorCNG: [UInt8] = [0x02]  // t30-indicator cng
    static let indicatorCED: [UInt8] = [0x04]  // t30-indicator ced
    /// V.21 data, one field hdlc-data with the 2 octets FF 13.
    static let hdlcData: [UInt8] = [0xC0, 0x01, 0x80, 0x00, 0x01, 0xFF, 0x13]
    /// V.21 data, one field hdlc-fcs-OK without field data.
    static let hdlcFCSOK: [UInt8] = [0xC0, 0x01, 0x10]
    /// V.21 data, one field hdlc-sig-end without field data.
    static let hdlcSigEnd: [UInt8] = [0xC0, 0x01, 0x08]

    /// A V.17 14400 T.4 non-ECM data IFP with `payload` bytes of image data (self-delimiting, so FEC
    /// padding can be trimmed).
    static func imageData(_ payload: [UInt8]) -> [UInt8] {
        precondition(!payload.isEmpty)
        let n = payload.count - 1
        return [0xC0 | (8 << 1), 0x01, 0x80 | (6 << 3), UInt8(n >> 8), UInt8(n & 0xFF)] + payload
    }

    /// `count` distinct IFPs of varying lengths.
    static func ifps(_ count: Int, seed: UInt64 = 1) -> [[UInt8]] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { i in
            let len = 1 + Int(rng.next() % 60)
            return imageData((0..<len).map { j in UInt8(truncatingIfNeeded: i &* 31 &+ j &* 7 &+ 1) })
        }
    }

    static func encode(_ encoder: inout UDPTLEncoder, _ ifp: [UInt8], capacity: Int = 2048) throws -> [UInt8] {
        var out = [UInt8](repeating: 0xEE, count: capacity)
        let n = try ifp.withUnsafeBytes { src in
            try out.withUnsafeMutableBytes { dst in try encoder.encode(ifp: src, into: dst) }
        }
        return Array(out[0..<n])
    }

    static func encodeAll(_ encoder: inout UDPTLEncoder, _ ifps: [[UInt8]]) throws -> [[UInt8]] {
        try ifps.map { try encode(&encoder, $0) }
    }

    static func receive(_ decoder: inout UDPTLDecoder, _ datagram: [UInt8]) throws -> [Delivery] {
        var got: [Delivery] = []
        try datagram.withUnsafeBytes { buf in
            try decoder.receive(buf) { seq, ifp in got.append(Delivery(seq: seq, bytes: Array(ifp))) }
        }
        return got
    }

    /// Feeds datagrams, collecting everything delivered.
    static func receiveAll(_ decoder: inout UDPTLDecoder, _ datagrams: [[UInt8]]) throws -> [Delivery] {
        var got: [Delivery] = []
        for d in datagrams { got += try receive(&decoder, d) }
        return got
    }

    static func flush(_ decoder: inout UDPTLDecoder) -> [Delivery] {
        var got: [Delivery] = []
        decoder.flush { seq, ifp in got.append(Delivery(seq: seq, bytes: Array(ifp))) }
        return got
    }

    /// Expected deliveries for sequence numbers `first..` with the given IFPs.
    static func deliveries(_ ifps: [[UInt8]], firstSequence: UInt16 = 0, indices: [Int]? = nil) -> [Delivery] {
        (indices ?? Array(ifps.indices)).map {
            Delivery(seq: firstSequence &+ UInt16(truncatingIfNeeded: $0), bytes: ifps[$0])
        }
    }

    /// Asserts that `datagram` is rejected and leaves the decoder as it was.
    static func expectRejected(_ decoder: inout UDPTLDecoder, _ datagram: [UInt8],
                               sourceLocation: SourceLocation = #_sourceLocation) -> UDPTLError? {
        let before = decoder.statistics
        let next = decoder.nextExpectedSequence
        let held = decoder.heldPacketCount
        var delivered = 0
        var caught: UDPTLError?
        do {
            try datagram.withUnsafeBytes { buf in
                try decoder.receive(buf) { _, _ in delivered += 1 }
            }
            Issue.record("datagram \(datagram) was accepted", sourceLocation: sourceLocation)
        } catch {
            caught = error as? UDPTLError
            #expect(caught != nil, "unexpected error type \(error)", sourceLocation: sourceLocation)
        }
        #expect(delivered == 0, sourceLocation: sourceLocation)
        var expected = before
        expected.malformed += 1
        #expect(decoder.statistics == expected, sourceLocation: sourceLocation)
        #expect(decoder.nextExpectedSequence == next, sourceLocation: sourceLocation)
        #expect(decoder.heldPacketCount == held, sourceLocation: sourceLocation)
        return caught
    }
}
