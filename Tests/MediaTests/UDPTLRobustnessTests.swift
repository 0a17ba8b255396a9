import Testing
@testable import Media

@Suite("UDPTL robustness")
struct UDPTLRobustnessTests {
    typealias K = UDPTLTestKit

    static let validPackets: [[UInt8]] = [
        UDPTLGolden.primaryOnly,
        UDPTLGolden.redundancy3[3],
        UDPTLGolden.redundancy3[4],
        UDPTLGolden.fec3x1[3],
        UDPTLGolden.fec3x1[4],
        // 2-octet length determinants.
        [0x00, 0x09, 0x80, 0x80] + [UInt8](repeating: 0x41, count: 128) + [0x00, 0x01, 0x80, 0x81]
            + [UInt8](repeating: 0x42, count: 129),
    ]

    @Test(arguments: validPackets)
    func everyTruncationIsRejected(packet: [UInt8]) throws {
        var decoder = UDPTLDecoder()
        for length in 0..<packet.count {
            let error = K.expectRejected(&decoder, Array(packet[0..<length]))
            #expect(error?.kind == .truncated, "prefix \(length): \(String(describing: error))")
        }
        #expect(decoder.statistics.malformed == packet.count)
        #expect(decoder.statistics.packets == 0)
        #expect(decoder.nextExpectedSequence == nil)
        // The untruncated packet is accepted as the first one.
        #expect(try !K.receive(&decoder, packet).isEmpty)
    }

    @Test func truncationMidStreamLeavesStateAlone() throws {
        var decoder = UDPTLDecoder()
        _ = try K.receiveAll(&decoder, Array(UDPTLGolden.redundancy3[0..<2]))
        let packet = UDPTLGolden.redundancy3[4]
        for length in 0..<packet.count {
            _ = K.expectRejected(&decoder, Array(packet[0..<length]))
        }
        #expect(try K.receive(&decoder, packet) == K.deliveries(UDPTLGolden.ifps, indices: [2, 3, 4]))
    }

    @Test func truncationReasonNamesTheField() {
        var decoder = UDPTLDecoder()
        // redundancy3[3]: ... 16: length 1 of secondary 2, 17: its octet.
        let error = K.expectRejected(&decoder, Array(UDPTLGolden.redundancy3[3][0..<17]))
        #expect(error == UDPTLError(.truncated, .secondary(2), offset: 17, length: 17, value: 1, limit: 0))
        #expect(error?.reason == "UDPTL packet truncated at byte 17 of 17 (secondary IFP 2 length 1 exceeds remaining 0 bytes)")
        #expect(error?.description == error?.reason)
        let short = K.expectRejected(&decoder, [0x00])
        #expect(short?.reason == "UDPTL packet truncated at byte 0 of 1 (sequence number needs 2 byte(s), 1 remaining)")
    }

    @Test func otherMalformations() {
        var decoder = UDPTLDecoder(maxIFPSize: 100)
        // Fragmented length determinant for the primary.
        var e = K.expectRejected(&decoder, [0x00, 0x01, 0xC1, 0x00])
        #expect(e?.kind == .fragmentedLength)
        #expect(e?.field == .primaryLength)
        // Trailing garbage after a complete packet (FreeSWITCH rejects these too).
        e = K.expectRejected(&decoder, UDPTLGolden.primaryOnly + [0x00])
        #expect(e?.kind == .trailingBytes)
        #expect(e?.reason == "UDPTL packet has 1 unexpected trailing byte(s) after byte 6 of 7")
        // fec-npackets of zero octets.
        e = K.expectRejected(&decoder, [0x00, 0x01, 0x01, 0x02, 0x80, 0x00, 0x00])
        #expect(e?.kind == .invalidValue)
        // IFP larger than maxIFPSize.
        e = K.expectRejected(&decoder, [0x00, 0x01, 0x65] + [UInt8](repeating: 1, count: 101) + [0x00, 0x00])
        #expect(e?.kind == .ifpTooLarge)
        #expect(e?.reason == "UDPTL primary IFP at byte 3 of 106 is 101 bytes, more than the decoder's maxIFPSize 100")
        // Oversized secondary count with nothing behind it.
        e = K.expectRejected(&decoder, [0x00, 0x01, 0x01, 0x02, 0x00, 0xBF, 0xFF])
        #expect(e?.kind == .truncated)
        #expect(e?.field == .secondaryLength(1))
        #expect(decoder.statistics.malformed == 5)
    }

    @Test func unusableFECParametersStillDeliverThePrimary() throws {
        var decoder = UDPTLDecoder()
        // span encoded on 3 octets, 9 entries, span*entries beyond the window: FEC ignored.
        let odd: [[UInt8]] = [
            [0x00, 0x01, 0x01, 0x02, 0x80, 0x03, 0x01, 0x00, 0x00, 0x01, 0x01, 0x07],
            [0x00, 0x02, 0x01, 0x04, 0x80, 0x01, 0x03, 0x09] + [UInt8](repeating: 0x00, count: 9),
            [0x00, 0x03, 0x01, 0x06, 0x80, 0x01, 0x20, 0x01, 0x01, 0x07],
        ]
        let got = try K.receiveAll(&decoder, odd)
        #expect(got.map(\.seq) == [1, 2, 3])
        #expect(decoder.reorderHold == 0)
    }

    @Test func fuzzedDatagramsNeverCrash() {
        var rng = SplitMix64(seed: 0x5EED_0038)
        var decoders = [
            UDPTLDecoder(),
            UDPTLDecoder(errorCorrection: .fec(span: 3, entries: 3), maxIFPSize: 200),
            UDPTLDecoder(reorderHold: 31, resyncWindow: 40),
        ]
        var seeds: [[UInt8]] = Self.validPackets + UDPTLGolden.redundancy3 + UDPTLGolden.fec3x1
        var interleaved = UDPTLEncoder(errorCorrection: .fec(span: 2, entries: 2))
        for ifp in K.ifps(8) { seeds.append(try! K.encode(&interleaved, ifp)) }

        var accepted = 0
        var rejected = 0
        for round in 0..<10_000 {
            var datagram: [UInt8]
            switch round % 4 {
            case 0:
                // Pure noise.
                datagram = (0..<Int(rng.next() % 48)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1:
                // Noise with small length octets, to get deeper into the structure.
                datagram = (0..<Int(rng.next() % 24)).map { _ in UInt8(truncatingIfNeeded: rng.next() % 6) }
            default:
                // A valid packet with a few octets flipped, truncated or extended.
                datagram = seeds[Int(rng.next() % UInt64(seeds.count))]
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    let i = Int(rng.next() % UInt64(datagram.count))
                    datagram[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                }
                switch rng.next() % 4 {
                case 0: datagram.removeLast(Int(rng.next() % UInt64(datagram.count)))
                case 1: datagram += [UInt8(truncatingIfNeeded: rng.next())]
                default: break
                }
            }
            for d in decoders.indices {
                let maxIFP = decoders[d].maxIFPSize
                let resyncs = decoders[d].statistics.resyncs
                var seqs: [UInt16] = []
                do {
                    try datagram.withUnsafeBytes { buf in
                        try decoders[d].receive(buf) { seq, ifp in
                            seqs.append(seq)
                            #expect(ifp.count <= maxIFP)
                        }
                    }
                    accepted += 1
                } catch {
                    rejected += 1
                    #expect(seqs.isEmpty)
                }
                // In order within a call, unless the window restarted during it.
                if decoders[d].statistics.resyncs == resyncs {
                    for (a, b) in zip(seqs, seqs.dropFirst()) {
                        let step = b &- a
                        #expect(step > 0 && step < 0x8000, "out of order \(a) -> \(b)")
                    }
                }
            }
        }
        #expect(accepted > 0)
        #expect(rejected > 0)
        for d in decoders {
            #expect(d.statistics.malformed + d.statistics.packets == 10_000)
        }
    }

    @Test func ifpSelfDelimitedLength() {
        func length(_ bytes: [UInt8], v0: Bool = false) -> Int? {
            bytes.withUnsafeBytes { UDPTLIFPLength.encodedLength($0.baseAddress!, count: bytes.count, version0: v0) }
        }
        func trimmed(_ bytes: [UInt8]) -> Int {
            bytes.withUnsafeBytes { UDPTLIFPLength.trimmedLength($0.baseAddress!, count: bytes.count) }
        }
        #expect(length([0x02, 0x00, 0x00]) == 1)
        #expect(length([0x20, 0x40, 0x00]) == 2)  // extended indicator (v1)
        #expect(length(K.hdlcData + [0, 0]) == 7)
        #expect(length(K.hdlcFCSOK + [0, 0, 0]) == 3)
        #expect(length([0xC0, 0x01, 0x80, 0x00, 0x05, 0x01]) == nil)  // field data runs past the end
        #expect(length([0x82]) == nil)  // indicator with a data field
        // Version 0: two data-less fields share one octet.
        #expect(length([0xC0, 0x02, 0x23, 0x00], v0: true) == 3)
        #expect(trimmed(K.hdlcFCSOK + [0, 0, 0, 0]) == 3)
        #expect(trimmed(K.hdlcData) == 7)
        #expect(trimmed([0xC0, 0x01, 0x10, 0x00, 0x07, 0x00]) == 6)  // non-zero tail: keep
        #expect(trimmed(K.imageData([1, 2, 0]) + [0, 0]) == 8)  // IFP ending in a zero octet
    }
}
