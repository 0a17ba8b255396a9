import Testing
@testable import Media

@Suite("UDPTL decoder")
struct UDPTLDecoderTests {
    typealias K = UDPTLTestKit
    typealias D = UDPTLTestKit.Delivery

    @Test func primaryOnlyPacket() throws {
        var decoder = UDPTLDecoder()
        #expect(try K.receive(&decoder, UDPTLGolden.primaryOnly) == [D(seq: 0x1234, bytes: [0x02])])
        #expect(decoder.nextExpectedSequence == 0x1235)
        #expect(decoder.statistics.packets == 1)
        #expect(decoder.statistics.delivered == 1)
    }

    @Test func goldenStreamsDecode() throws {
        var red = UDPTLDecoder()
        #expect(try K.receiveAll(&red, UDPTLGolden.redundancy3) == K.deliveries(UDPTLGolden.ifps))
        var fec = UDPTLDecoder(errorCorrection: .fec(span: 3, entries: 1))
        #expect(try K.receiveAll(&fec, UDPTLGolden.fec3x1) == K.deliveries(UDPTLGolden.ifps))
    }

    @Test(arguments: [1, 2, 3])
    func redundancyRecoversConsecutiveLosses(lost: Int) throws {
        let ifps = K.ifps(12)
        var encoder = UDPTLEncoder(errorCorrection: .redundancy(depth: 3))
        let packets = try K.encodeAll(&encoder, ifps)
        let dropped = Set(4..<(4 + lost))
        var decoder = UDPTLDecoder()
        let got = try K.receiveAll(&decoder, packets.enumerated().filter { !dropped.contains($0.offset) }.map(\.element))
        #expect(got == K.deliveries(ifps))
        #expect(decoder.statistics.recoveredByRedundancy == lost)
        #expect(decoder.statistics.lost == 0)
        #expect(decoder.statistics.packets == 12 - lost)
    }

    /// Slots start at 128 bytes and grow when a longer IFP or parity entry arrives: what they held
    /// moves with them, and a long IFP lost is still rebuilt from redundancy or parity.
    @Test(arguments: [UDPTLErrorCorrection.redundancy(depth: 3), .fec(span: 3, entries: 1)])
    func longIFPsAfterShortOnesSurviveLoss(_ correction: UDPTLErrorCorrection) throws {
        let lengths = [20, 40, 60, 90, 300, 10, 700, 1000, 50, 1200, 30, 20, 10, 5, 1]
        let ifps = lengths.enumerated().map { i, n in K.imageData((0..<n).map { UInt8(truncatingIfNeeded: i &* 13 &+ $0) }) }
        var encoder = UDPTLEncoder(errorCorrection: correction, maxDatagram: 8000)
        let packets = try ifps.map { try K.encode(&encoder, $0, capacity: 8192) }
        for dropped in [4, 7, 9] {
            var decoder = UDPTLDecoder(errorCorrection: correction, maxIFPSize: 1400)
            let got = try K.receiveAll(&decoder, packets.enumerated().filter { $0.offset != dropped }.map(\.element))
            #expect(got == K.deliveries(ifps), "IFP \(dropped) (\(lengths[dropped]) bytes) lost")
            #expect(decoder.statistics.lost == 0)
        }
    }

    @Test func fourConsecutiveLossesLoseOne() throws {
        let ifps = K.ifps(12)
        var encoder = UDPTLEncoder(errorCorrection: .redundancy(depth: 3))
        let packets = try K.encodeAll(&encoder, ifps)
        var decoder = UDPTLDecoder()
        let got = try K.receiveAll(&decoder, packets.enumerated().filter { !(4..<8).contains($0.offset) }.map(\.element))
        #expect(got == K.deliveries(ifps, indices: [0, 1, 2, 3] + Array(5..<12)))
        #expect(decoder.statistics.lost == 1)
        #expect(decoder.statistics.recoveredByRedundancy == 3)
    }

    @Test func recoveredPacketsComeBeforeThePrimaryInOrder() throws {
        var decoder = UDPTLDecoder()
        _ = try K.receive(&decoder, UDPTLGolden.redundancy3[0])
        // Packets 1-3 lost; 4 carries 3, 2, 1.
        let got = try K.receive(&decoder, UDPTLGolden.redundancy3[4])
        #expect(got.map(\.seq) == [1, 2, 3, 4])
        #expect(got == K.deliveries(UDPTLGolden.ifps, indices: [1, 2, 3, 4]))
    }

    @Test func fecSpan3Entries1Recovery() throws {
        let ifps = K.ifps(10)
        var encoder = UDPTLEncoder(errorCorrection: .fec(span: 3, entries: 1))
        let packets = try K.encodeAll(&encoder, ifps)

        // Loss of 5: packet 6 carries the parity of 3, 4, 5.
        var decoder = UDPTLDecoder(errorCorrection: .fec(span: 3, entries: 1))
        var got = try K.receiveAll(&decoder, packets.enumerated().filter { $0.offset != 5 }.map(\.element))
        #expect(got == K.deliveries(ifps))
        #expect(decoder.statistics.recoveredByFEC == 1)
        #expect(decoder.statistics.lost == 0)

        // Loss of 4: packet 5 carries the parity of 2, 3, 4; the IFPs differ in length, so the
        // rebuilt one must come out trimmed to its own length.
        decoder = UDPTLDecoder(errorCorrection: .fec(span: 3, entries: 1))
        got = try K.receiveAll(&decoder, packets.enumerated().filter { $0.offset != 4 }.map(\.element))
        #expect(got == K.deliveries(ifps))
        #expect(decoder.statistics.recoveredByFEC == 1)
        #expect(ifps[4].count != ifps[2...4].map(\.count).max())
    }

    @Test func fecRebuildTrimsPadding() throws {
        // hdlcFCSOK (3 octets) lost; its parity group has the 7-octet hdlcData.
        var decoder = UDPTLDecoder(errorCorrection: .fec(span: 3, entries: 1))
        var got = try K.receiveAll(&decoder, Array(UDPTLGolden.fec3x1[0..<3]))
        got += try K.receive(&decoder, UDPTLGolden.fec3x1[4])
        #expect(got == K.deliveries(UDPTLGolden.ifps))
        #expect(decoder.statistics.recoveredByFEC == 1)
    }

    @Test func fecInterleavedBurstOfTwo() throws {
        let ifps = K.ifps(14, seed: 7)
        var encoder = UDPTLEncoder(errorCorrection: .fec(span: 2, entries: 2))
        let packets = try K.encodeAll(&encoder, ifps)
        var decoder = UDPTLDecoder(errorCorrection: .fec(span: 2, entries: 2))
        let got = try K.receiveAll(&decoder, packets.enumerated().filter { ![6, 7].contains($0.offset) }.map(\.element))
        #expect(got == K.deliveries(ifps))
        #expect(decoder.statistics.recoveredByFEC == 2)
        #expect(decoder.statistics.lost == 0)
    }

    @Test func fecRecoveryChainsAcrossGroups() throws {
        // span 3 entries 1, lose 4 and 5: 6 (3,4,5) and 7 (4,5,6) cannot help, 8 (5,6,7) rebuilds 5,
        // after which 7 rebuilds 4. Needs a hold of 4 packets.
        let ifps = K.ifps(12, seed: 3)
        var encoder = UDPTLEncoder(errorCorrection: .fec(span: 3, entries: 1))
        let packets = try K.encodeAll(&encoder, ifps)
        var decoder = UDPTLDecoder(errorCorrection: .fec(span: 3, entries: 1), reorderHold: 4)
        let got = try K.receiveAll(&decoder, packets.enumerated().filter { ![4, 5].contains($0.offset) }.map(\.element))
        #expect(got == K.deliveries(ifps))
        #expect(decoder.statistics.recoveredByFEC == 2)
    }

    @Test func fecWithoutHoldGivesUpAtOnce() throws {
        // Loss of 4 and 5: 6 (parity of 3, 4, 5) cannot help; with no hold both are lost at once,
        // although 8 could have rebuilt 5 later.
        let ifps = K.ifps(10)
        var encoder = UDPTLEncoder(errorCorrection: .fec(span: 3, entries: 1))
        let packets = try K.encodeAll(&encoder, ifps)
        var decoder = UDPTLDecoder(errorCorrection: .fec(span: 3, entries: 1), reorderHold: 0)
        let got = try K.receiveAll(&decoder, packets.enumerated().filter { ![4, 5].contains($0.offset) }.map(\.element))
        #expect(got == K.deliveries(ifps, indices: [0, 1, 2, 3] + Array(6..<10)))
        #expect(decoder.statistics.lost == 2)
        #expect(decoder.statistics.recoveredByFEC == 0)
    }

    @Test func automaticHoldRecoversWhatOneGroupCanReach() throws {
        // Same losses with the automatic hold (span * entries = 3): 4 is given up when 7 arrives,
        // 5 is rebuilt from 8 (parity of 5, 6, 7); 6 and 7 wait for it.
        let ifps = K.ifps(10)
        var encoder = UDPTLEncoder(errorCorrection: .fec(span: 3, entries: 1))
        let packets = try K.encodeAll(&encoder, ifps)
        var decoder = UDPTLDecoder(errorCorrection: .fec(span: 3, entries: 1))
        var got = try K.receiveAll(&decoder, Array(packets[0..<4]))
        got += try K.receive(&decoder, packets[6])
        got += try K.receive(&decoder, packets[7])
        #expect(got.count == 4)
        #expect(decoder.heldPacketCount == 2)
        got += try K.receiveAll(&decoder, Array(packets[8...]))
        #expect(got == K.deliveries(ifps, indices: [0, 1, 2, 3] + Array(5..<10)))
        #expect(decoder.statistics.lost == 1)
        #expect(decoder.statistics.recoveredByFEC == 1)
    }

    @Test func flushReleasesHeldPackets() throws {
        let ifps = K.ifps(7)
        var encoder = UDPTLEncoder(errorCorrection: .fec(span: 3, entries: 1))
        let packets = try K.encodeAll(&encoder, ifps)
        var decoder = UDPTLDecoder(errorCorrection: .fec(span: 3, entries: 1))
        _ = try K.receiveAll(&decoder, Array(packets[0..<4]))
        // 4 and 5 lost: 6 waits for a parity packet that never comes.
        #expect(try K.receive(&decoder, packets[6]).isEmpty)
        #expect(decoder.heldPacketCount == 1)
        #expect(K.flush(&decoder) == K.deliveries(ifps, indices: [6]))
        #expect(decoder.statistics.lost == 2)
        #expect(decoder.heldPacketCount == 0)
        #expect(K.flush(&decoder).isEmpty)
    }

    @Test func mixedRedundancyAndFECStream() throws {
        // Even sequence numbers come from a redundancy encoder, odd ones from an FEC encoder fed the
        // same IFPs. Loss of 2 is repaired by FEC packet 3 (parity of 0, 1, 2); loss of 7 by the
        // secondaries of redundancy packet 8.
        let ifps = K.ifps(12, seed: 11)
        var red = UDPTLEncoder(errorCorrection: .redundancy(depth: 2))
        var fec = UDPTLEncoder(errorCorrection: .fec(span: 3, entries: 1))
        let redPackets = try K.encodeAll(&red, ifps)
        let fecPackets = try K.encodeAll(&fec, ifps)
        let stream = ifps.indices.map { $0 % 2 == 0 ? redPackets[$0] : fecPackets[$0] }
        for expected in [UDPTLErrorCorrection.redundancy(depth: 3), .fec(span: 3, entries: 1), .none] {
            var decoder = UDPTLDecoder(errorCorrection: expected)
            let got = try K.receiveAll(&decoder, stream.enumerated().filter { ![2, 7].contains($0.offset) }.map(\.element))
            #expect(got == K.deliveries(ifps))
            #expect(decoder.statistics.recoveredByFEC == 1)
            #expect(decoder.statistics.recoveredByRedundancy == 1)
            #expect(decoder.statistics.lost == 0)
        }
    }

    @Test func sequenceWrapWithLossAcrossTheWrap() throws {
        let ifps = K.ifps(4)
        var encoder = UDPTLEncoder(errorCorrection: .redundancy(depth: 3), initialSequence: 65534)
        let packets = try K.encodeAll(&encoder, ifps)
        #expect(packets.map { UInt16($0[0]) << 8 | UInt16($0[1]) } == [65534, 65535, 0, 1])
        var decoder = UDPTLDecoder()
        // 65535 and 0 lost.
        let got = try K.receiveAll(&decoder, [packets[0], packets[3]])
        #expect(got == K.deliveries(ifps, firstSequence: 65534))
        #expect(got.map(\.seq) == [65534, 65535, 0, 1])
        #expect(decoder.statistics.recoveredByRedundancy == 2)
        #expect(decoder.nextExpectedSequence == 2)
    }

    @Test func fecAcrossTheWrap() throws {
        let ifps = K.ifps(8)
        var encoder = UDPTLEncoder(errorCorrection: .fec(span: 3, entries: 1), initialSequence: 65532)
        let packets = try K.encodeAll(&encoder, ifps)
        var decoder = UDPTLDecoder(errorCorrection: .fec(span: 3, entries: 1))
        // Index 4 is sequence 0.
        let got = try K.receiveAll(&decoder, packets.enumerated().filter { $0.offset != 4 }.map(\.element))
        #expect(got == K.deliveries(ifps, firstSequence: 65532))
        #expect(decoder.statistics.recoveredByFEC == 1)
    }

    @Test func firstSequence32768() throws {
        let ifps = K.ifps(5)
        var encoder = UDPTLEncoder(errorCorrection: .redundancy(depth: 3), initialSequence: 32768)
        let packets = try K.encodeAll(&encoder, ifps)
        var decoder = UDPTLDecoder()
        #expect(decoder.nextExpectedSequence == nil)
        let got = try K.receiveAll(&decoder, packets.enumerated().filter { $0.offset != 1 }.map(\.element))
        #expect(got == K.deliveries(ifps, firstSequence: 32768))
        #expect(decoder.statistics.duplicates == 0)
        #expect(decoder.statistics.resyncs == 0)
    }

    @Test func firstPacketBackfillsFromItsSecondaries() throws {
        // Packets 0 and 1 lost: the first one received (2) delivers 0 and 1 from its secondaries.
        var decoder = UDPTLDecoder()
        let got = try K.receiveAll(&decoder, Array(UDPTLGolden.redundancy3[2...]))
        #expect(got == K.deliveries(UDPTLGolden.ifps))
    }

    @Test func duplicatesAreDropped() throws {
        var decoder = UDPTLDecoder()
        let p = UDPTLGolden.redundancy3
        var got = try K.receiveAll(&decoder, [p[0], p[0], p[1], p[1], p[0], p[2]])
        got += try K.receive(&decoder, p[2])
        #expect(got == K.deliveries(UDPTLGolden.ifps, indices: [0, 1, 2]))
        #expect(decoder.statistics.duplicates == 4)
        #expect(decoder.statistics.packets == 7)
    }

    @Test func reorderedPacketIsRecoveredThenDuplicate() throws {
        let p = UDPTLGolden.redundancy3
        var decoder = UDPTLDecoder()
        var got = try K.receiveAll(&decoder, [p[0], p[1], p[2]])
        // 4 arrives before 3: delivers 3 (from its redundancy) and 4.
        got += try K.receive(&decoder, p[4])
        #expect(got == K.deliveries(UDPTLGolden.ifps))
        // Late 3 is a duplicate.
        #expect(try K.receive(&decoder, p[3]).isEmpty)
        #expect(decoder.statistics.duplicates == 1)
        #expect(decoder.statistics.recoveredByRedundancy == 1)
        #expect(decoder.statistics.lost == 0)
    }

    @Test func reorderHoldWaitsForLatePacket() throws {
        var encoder = UDPTLEncoder(errorCorrection: .none)
        let ifps = K.ifps(6)
        let packets = try K.encodeAll(&encoder, ifps)
        var decoder = UDPTLDecoder(reorderHold: 2)
        var got = try K.receiveAll(&decoder, [packets[0], packets[1], packets[3]])
        #expect(got.count == 2)
        got += try K.receive(&decoder, packets[2])
        got += try K.receiveAll(&decoder, Array(packets[4...]))
        #expect(got == K.deliveries(ifps))
        #expect(decoder.statistics.lost == 0)
    }

    @Test func jumpWithinWindowCountsLost() throws {
        var encoder = UDPTLEncoder(errorCorrection: .redundancy(depth: 3))
        let ifps = K.ifps(101)
        let packets = try K.encodeAll(&encoder, ifps)
        var decoder = UDPTLDecoder()
        var got = try K.receiveAll(&decoder, Array(packets[0...2]))
        got += try K.receive(&decoder, packets[100])
        #expect(got == K.deliveries(ifps, indices: [0, 1, 2, 97, 98, 99, 100]))
        #expect(decoder.statistics.lost == 94)
        #expect(decoder.statistics.resyncs == 0)
    }

    @Test func jumpFarAheadResets() throws {
        var decoder = UDPTLDecoder()
        let p = UDPTLGolden.redundancy3
        var got = try K.receiveAll(&decoder, [p[0], p[1]])
        // A stream restarting at 5000 (with its own history) resynchronises the window.
        var encoder = UDPTLEncoder(errorCorrection: .redundancy(depth: 3), initialSequence: 5000)
        let restarted = try K.encodeAll(&encoder, UDPTLGolden.ifps)
        got += try K.receiveAll(&decoder, Array(restarted[1...]))
        #expect(got == K.deliveries(UDPTLGolden.ifps, indices: [0, 1])
            + K.deliveries(UDPTLGolden.ifps, firstSequence: 5000))
        #expect(decoder.statistics.resyncs == 1)
        #expect(decoder.statistics.lost == 0)
        // Old packets of the previous stream are now far behind: another restart.
        got = try K.receive(&decoder, p[2])
        #expect(got.map(\.seq) == [0, 1, 2])
        #expect(decoder.statistics.resyncs == 2)
    }

    @Test func smallStepBackIsLateNotRestart() throws {
        var encoder = UDPTLEncoder(errorCorrection: .none)
        let packets = try K.encodeAll(&encoder, K.ifps(300))
        var decoder = UDPTLDecoder()
        _ = try K.receiveAll(&decoder, packets)
        #expect(try K.receive(&decoder, packets[10]).isEmpty)
        #expect(decoder.statistics.duplicates == 1)
        #expect(decoder.statistics.resyncs == 0)
    }

    @Test func zeroLengthSecondaryIsAbsentButKeepsItsPosition() throws {
        var decoder = UDPTLDecoder()
        _ = try K.receive(&decoder, [0x00, 0x02, 0x01, 0x02, 0x00, 0x00])
        // seq 5, secondaries: seq 4 empty, seq 3 = ced.
        let got = try K.receive(&decoder, [0x00, 0x05, 0x01, 0x06, 0x00, 0x02, 0x00, 0x01, 0x04])
        #expect(got == [D(seq: 3, bytes: [0x04]), D(seq: 5, bytes: [0x06])])
        #expect(decoder.statistics.lost == 1)
    }

    @Test func decoderCopiesAreIndependent() throws {
        let p = UDPTLGolden.redundancy3
        var a = UDPTLDecoder()
        _ = try K.receive(&a, p[0])
        var b = a
        #expect(try K.receive(&a, p[1]).map(\.seq) == [1])
        #expect(try K.receive(&b, p[2]).map(\.seq) == [1, 2])
        #expect(a.statistics.recoveredByRedundancy == 0)
        #expect(b.statistics.recoveredByRedundancy == 1)
    }
}
