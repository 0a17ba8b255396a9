import Testing
@testable import Media

/// Golden packets, hand-encoded from the T.38 Annex A ASN.1 in aligned PER:
/// seq-number (2 octets) | primary open type (length determinant + octets) |
/// error-recovery choice octet (0x00 secondaries / 0x80 fec-info) | rest.
enum UDPTLGolden {
    typealias K = UDPTLTestKit

    /// .none, seq 0x1234, IFP cng: 12 34 | 01 02 | 00 (secondary-ifp-packets) | 00 (zero of them).
    /// Asterisk udptl_build_packet, UDPTL_ERROR_CORRECTION_NONE: buf = seq>>8, seq, encode_open_type,
    /// 0x00, encode_length(0) -> identical.
    static let primaryOnly: [UInt8] = [0x12, 0x34, 0x01, 0x02, 0x00, 0x00]

    /// Redundancy depth 3 over cng, ced, hdlcData, hdlcFCSOK, hdlcSigEnd from sequence 0.
    /// Cross-checked against Asterisk's / FreeSWITCH's udptl_build_packet (REDUNDANCY case):
    /// entries = tx_seq_no < 3 ? tx_seq_no : 3, then for i in 0..<entries the IFP of entry - i - 1,
    /// i.e. newest first, each as encode_open_type.
    static let redundancy3: [[UInt8]] = [
        [0x00, 0x00, 0x01, 0x02, 0x00, 0x00],
        [0x00, 0x01, 0x01, 0x04, 0x00, 0x01, 0x01, 0x02],
        [0x00, 0x02, 0x07, 0xC0, 0x01, 0x80, 0x00, 0x01, 0xFF, 0x13, 0x00, 0x02, 0x01, 0x04, 0x01, 0x02],
        [0x00, 0x03, 0x03, 0xC0, 0x01, 0x10, 0x00, 0x03,
         0x07, 0xC0, 0x01, 0x80, 0x00, 0x01, 0xFF, 0x13, 0x01, 0x04, 0x01, 0x02],
        [0x00, 0x04, 0x03, 0xC0, 0x01, 0x08, 0x00, 0x03,
         0x03, 0xC0, 0x01, 0x10, 0x07, 0xC0, 0x01, 0x80, 0x00, 0x01, 0xFF, 0x13, 0x01, 0x04],
    ]

    /// FEC span 3, entries 1 over the same IFPs. Cross-checked against Asterisk's udptl_build_packet
    /// (FEC case): while seq < span*entries it winds up with entries = seq/span and span = 0 if
    /// seq < span; then writes 0x80, 0x01, span, entries and per entry m the XOR of the IFPs
    /// limit-span*entries ..< limit (limit = entry + m) step entries, as long as the longest one
    /// ("high_tide"), shorter ones zero-extended.
    /// seq 3: parity of cng ^ ced ^ hdlcData = (02^04^C0) 01 80 00 01 FF 13 = C6 01 80 00 01 FF 13.
    /// seq 4: parity of ced ^ hdlcData ^ hdlcFCSOK = (04^C0^C0) (01^01) (80^10) 00 01 FF 13.
    static let fec3x1: [[UInt8]] = [
        [0x00, 0x00, 0x01, 0x02, 0x80, 0x01, 0x00, 0x00],
        [0x00, 0x01, 0x01, 0x04, 0x80, 0x01, 0x00, 0x00],
        [0x00, 0x02, 0x07, 0xC0, 0x01, 0x80, 0x00, 0x01, 0xFF, 0x13, 0x80, 0x01, 0x00, 0x00],
        [0x00, 0x03, 0x03, 0xC0, 0x01, 0x10, 0x80, 0x01, 0x03, 0x01,
         0x07, 0xC6, 0x01, 0x80, 0x00, 0x01, 0xFF, 0x13],
        [0x00, 0x04, 0x03, 0xC0, 0x01, 0x08, 0x80, 0x01, 0x03, 0x01,
         0x07, 0x04, 0x00, 0x90, 0x00, 0x01, 0xFF, 0x13],
    ]

    static let ifps: [[UInt8]] = [K.indicatorCNG, K.indicatorCED, K.hdlcData, K.hdlcFCSOK, K.hdlcSigEnd]
}

@Suite("UDPTL encoder")
struct UDPTLEncoderTests {
    typealias K = UDPTLTestKit

    @Test func primaryOnlyPacket() throws {
        var encoder = UDPTLEncoder(errorCorrection: .none, initialSequence: 0x1234)
        #expect(try K.encode(&encoder, K.indicatorCNG) == UDPTLGolden.primaryOnly)
        #expect(encoder.nextSequence == 0x1235)
    }

    @Test func redundancyDepth3Golden() throws {
        var encoder = UDPTLEncoder(errorCorrection: .redundancy(depth: 3))
        #expect(try K.encodeAll(&encoder, UDPTLGolden.ifps) == UDPTLGolden.redundancy3)
        #expect(encoder.nextSequence == 5)
    }

    @Test func fecSpan3Entries1Golden() throws {
        var encoder = UDPTLEncoder(errorCorrection: .fec(span: 3, entries: 1))
        #expect(try K.encodeAll(&encoder, UDPTLGolden.ifps) == UDPTLGolden.fec3x1)
    }

    @Test func fecInterleavedWindUp() throws {
        // span 2, entries 2: seq 0,1 no FEC; seq 2,3 one entry over the previous 2; then two entries,
        // entry m of packet x covering x+m-4 and x+m-2.
        var encoder = UDPTLEncoder(errorCorrection: .fec(span: 2, entries: 2))
        let ifps: [[UInt8]] = [[0x11], [0x22], [0x44, 0x01], [0x88], [0x03]]
        let packets = try K.encodeAll(&encoder, ifps)
        #expect(packets[0] == [0x00, 0x00, 0x01, 0x11, 0x80, 0x01, 0x00, 0x00])
        #expect(packets[1] == [0x00, 0x01, 0x01, 0x22, 0x80, 0x01, 0x00, 0x00])
        #expect(packets[2] == [0x00, 0x02, 0x02, 0x44, 0x01, 0x80, 0x01, 0x02, 0x01, 0x01, 0x33])
        #expect(packets[3] == [0x00, 0x03, 0x01, 0x88, 0x80, 0x01, 0x02, 0x01, 0x02, 0x66, 0x01])
        // seq 4: entry 0 = ifp0 ^ ifp2 = 55 01, entry 1 = ifp1 ^ ifp3 = AA.
        #expect(packets[4] == [0x00, 0x04, 0x01, 0x03, 0x80, 0x01, 0x02, 0x02, 0x02, 0x55, 0x01, 0x01, 0xAA])
    }

    @Test func twoOctetLengthDeterminant() throws {
        var encoder = UDPTLEncoder(errorCorrection: .none)
        let ifp = [UInt8](repeating: 0x5A, count: 200)
        let packet = try K.encode(&encoder, ifp)
        #expect(packet.count == 2 + 2 + 200 + 2)
        #expect(Array(packet[0..<4]) == [0x00, 0x00, 0x80, 0xC8])
        #expect(Array(packet.suffix(2)) == [0x00, 0x00])
    }

    @Test func sequenceWrapsAndSecondariesFollow() throws {
        var encoder = UDPTLEncoder(errorCorrection: .redundancy(depth: 1), initialSequence: 0xFFFF)
        let a = try K.encode(&encoder, [0x02])
        let b = try K.encode(&encoder, [0x04])
        #expect(a == [0xFF, 0xFF, 0x01, 0x02, 0x00, 0x00])
        #expect(b == [0x00, 0x00, 0x01, 0x04, 0x00, 0x01, 0x01, 0x02])
        #expect(encoder.nextSequence == 1)
    }

    @Test func oversizeDropsOldestSecondariesThenThrows() throws {
        var encoder = UDPTLEncoder(errorCorrection: .redundancy(depth: 3), maxDatagram: 100)
        let ifps = (0..<4).map { [UInt8](repeating: UInt8($0 + 1), count: 30) }
        // 2 + 31 + 1 + 1 = 35; each secondary adds 31.
        let p0 = try K.encode(&encoder, ifps[0])
        let p1 = try K.encode(&encoder, ifps[1])
        let p2 = try K.encode(&encoder, ifps[2])
        let p3 = try K.encode(&encoder, ifps[3])
        #expect([p0.count, p1.count, p2.count, p3.count] == [35, 66, 97, 97])
        // p3 keeps the two newest secondaries (ifps[2], ifps[1]); ifps[0] was dropped.
        #expect(p3[34] == 2)
        #expect(Array(p3[35..<66]) == [30] + ifps[2])
        #expect(Array(p3[66..<97]) == [30] + ifps[1])

        // 95 octets fit alone (2 + 1 + 95 + 1 + 1 = 100), with no room for secondaries.
        let fits = try K.encode(&encoder, [UInt8](repeating: 9, count: 95))
        #expect(fits.count == 100)
        #expect(fits[99] == 0)

        // 96 octets cannot fit even alone: throws, and no sequence number is consumed.
        let before = encoder.nextSequence
        #expect(throws: UDPTLError.self) { try K.encode(&encoder, [UInt8](repeating: 9, count: 96)) }
        do {
            _ = try K.encode(&encoder, [UInt8](repeating: 9, count: 96))
        } catch let error as UDPTLError {
            #expect(error.kind == .datagramTooSmall)
            #expect(error.reason == "IFP of 96 bytes needs a 101-byte UDPTL datagram, more than maxDatagram 100")
        }
        #expect(encoder.nextSequence == before)
        // The next packet has no room for the 95-octet IFP as its newest secondary, so carries none
        // (secondaries are positional: older ones cannot be sent without the newer ones).
        let next = try K.encode(&encoder, [0x02])
        #expect(next == [0x00, 0x05, 0x01, 0x02, 0x00, 0x00])
        let after = try K.encode(&encoder, [0x04])
        #expect(after == [0x00, 0x06, 0x01, 0x04, 0x00, 0x01, 0x01, 0x02])
    }

    @Test func outputBufferAlsoLimits() throws {
        var encoder = UDPTLEncoder(errorCorrection: .redundancy(depth: 3), maxDatagram: 1400)
        _ = try K.encode(&encoder, [UInt8](repeating: 1, count: 10))
        // Primary + secondary need 2+11+1+1+11 = 26; a 20-byte buffer only takes the primary.
        let small = try K.encode(&encoder, [UInt8](repeating: 2, count: 10), capacity: 20)
        #expect(small.count == 15)
        #expect(throws: UDPTLError.self) { try K.encode(&encoder, [UInt8](repeating: 3, count: 10), capacity: 14) }
    }

    @Test func fecFallsBackToFewerEntriesWhenTooBig() throws {
        var encoder = UDPTLEncoder(errorCorrection: .fec(span: 1, entries: 2), maxDatagram: 60)
        let ifp = [UInt8](repeating: 7, count: 20)
        _ = try K.encode(&encoder, ifp)
        _ = try K.encode(&encoder, ifp)
        // Full: 2 + 21 + 1 + 3 + 2*21 = 69 > 60 -> one entry over the previous packet: 48.
        let p = try K.encode(&encoder, ifp)
        #expect(p.count == 48)
        #expect(Array(p[23..<28]) == [0x80, 0x01, 0x01, 0x01, 20])
        #expect(Array(p[28...]) == ifp)
    }

    @Test func emptyIFPIsRejected() {
        var encoder = UDPTLEncoder()
        #expect(throws: UDPTLError.self) { try K.encode(&encoder, []) }
        #expect(encoder.nextSequence == 0)
    }

    @Test func maxDatagramClamping() {
        var encoder = UDPTLEncoder(maxDatagram: 72_000)
        #expect(encoder.maxDatagram == 1400)
        encoder.setMaxDatagram(0)
        #expect(encoder.maxDatagram == UDPTLEncoder.defaultMaxDatagram)
        encoder.setMaxDatagram(200)
        #expect(encoder.maxDatagram == 200)
        // 2 + 2 + 194 + 1 + 1 = 200.
        #expect(encoder.maxIFPSize == 194)
        #expect(UDPTLEncoder(errorCorrection: .none, maxDatagram: 100).maxIFPSize == 95)
        #expect(UDPTLEncoder(errorCorrection: .redundancy(depth: 3), maxDatagram: 400).recommendedIFPSize == 97)
    }

    @Test func errorCorrectionNormalization() {
        #expect(UDPTLErrorCorrection.redundancy(depth: 99).normalized == .redundancy(depth: 31))
        #expect(UDPTLErrorCorrection.redundancy(depth: -1).normalized == .redundancy(depth: 0))
        #expect(UDPTLErrorCorrection.fec(span: 0, entries: 0).normalized == .fec(span: 3, entries: 3))
        #expect(UDPTLErrorCorrection.fec(span: 20, entries: 9).normalized == .fec(span: 6, entries: 5))
    }

    @Test func copiesAreIndependent() throws {
        var a = UDPTLEncoder(errorCorrection: .redundancy(depth: 2))
        _ = try K.encode(&a, [0x02])
        var b = a
        let fromA = try K.encode(&a, [0x04])
        let fromB = try K.encode(&b, [0x06])
        #expect(fromA == [0x00, 0x01, 0x01, 0x04, 0x00, 0x01, 0x01, 0x02])
        #expect(fromB == [0x00, 0x01, 0x01, 0x06, 0x00, 0x01, 0x01, 0x02])
        #expect(try K.encode(&a, [0x08]).suffix(4) == [0x01, 0x04, 0x01, 0x02])
        #expect(try K.encode(&b, [0x08]).suffix(4) == [0x01, 0x06, 0x01, 0x02])
    }
}
