import Media
import Testing
@testable import Voice

/// Digits sent by one VoiceChannel and received by another, back to back on a manual-clock shard.
@Suite struct DTMFTests {
    @Test func rfc4733DigitsArriveOnceInOrder() throws {
        let shard = MediaShard(index: 0, clock: .manual)
        let pair = try LegPair(shard: shard)
        shard.advance(ticks: 5)
        try shard.queue.sync { try pair.near.sendDTMF("1234#") }
        shard.advance(ticks: 100)
        #expect(pair.farEvents.digitString == "1234#")
        #expect(pair.farEvents.digits.allSatisfy { $0.source == .rfc4733 })
        shard.queue.sync { pair.near.stop(); pair.far.stop() }
        let far = try #require(pair.farEvents.report)
        let near = try #require(pair.nearEvents.report)
        // 5 tone packets (the last with E) and 2 repeats of the end packet per digit.
        #expect(near.eventPacketsSent == 35)
        #expect(far.eventPacketsReceived == 35)
        #expect(far.digitsReceived == "1234#")
        #expect(near.digitsSent == 5)
    }

    /// 10% loss both ways: any packet of an event reports it, so every digit still arrives once;
    /// lost audio is concealed and counted.
    @Test func rfc4733DigitsSurviveLoss() throws {
        let shard = MediaShard(index: 0, clock: .manual)
        let pair = try LegPair(shard: shard, lossRate: 0.1, lossSeed: 7)
        shard.advance(ticks: 5)
        try shard.queue.sync { try pair.near.sendDTMF("0123456789*#ABCD") }
        shard.advance(ticks: 8 * 16 + 20)
        #expect(pair.farEvents.digitString == "0123456789*#ABCD")
        shard.queue.sync { pair.near.stop(); pair.far.stop() }
        let far = try #require(pair.farEvents.report)
        #expect(far.framesConcealed > 0)
        #expect(far.eventPacketsReceived < 7 * 16)
    }

    @Test(arguments: [G711Law.mulaw, .alaw])
    func inBandDigitsWithoutTelephoneEvent(law: G711Law) throws {
        let shard = MediaShard(index: 0, clock: .manual)
        let pair = try LegPair(shard: shard, nearEventPT: nil, farEventPT: nil, law: law)
        shard.advance(ticks: 5)
        try shard.queue.sync { try pair.near.sendDTMF("1234#") }
        shard.advance(ticks: 100)
        #expect(pair.farEvents.digitString == "1234#")
        #expect(pair.farEvents.digits.allSatisfy { $0.source == .inBand })
        shard.queue.sync { pair.near.stop(); pair.far.stop() }
        #expect(pair.nearEvents.report?.eventPacketsSent == 0)
    }

    @Test(arguments: ["1234#", "11#11*0D"])
    func bothFormsAreReportedOnce(digits: String) throws {
        let shard = MediaShard(index: 0, clock: .manual)
        var sending = VoiceChannelOptions()
        sending.dtmfSendMode = .both
        let pair = try LegPair(shard: shard, nearOptions: sending)
        shard.advance(ticks: 5)
        try shard.queue.sync { try pair.near.sendDTMF(digits) }
        shard.advance(ticks: 20 * digits.count + 50)
        #expect(pair.farEvents.digitString == digits)
        shard.queue.sync { pair.near.stop(); pair.far.stop() }
        // The tones were really there: the far end's detector saw them and the pairing dropped them.
        let far = try #require(pair.farEvents.report)
        #expect(far.inBandDigits == 0)
        #expect(far.digitsDeduplicated == digits.count)
        #expect(far.eventPacketsReceived == 7 * digits.count)
    }

    @Test func inBandDetectorAloneSeesTheTonesOfBoth() throws {
        // Same sender as above, but the receiver did not negotiate telephone-event: tones only.
        let shard = MediaShard(index: 0, clock: .manual)
        var sending = VoiceChannelOptions()
        sending.dtmfSendMode = .both
        let pair = try LegPair(shard: shard, farEventPT: nil, nearOptions: sending)
        shard.advance(ticks: 5)
        try shard.queue.sync { try pair.near.sendDTMF("1234#") }
        shard.advance(ticks: 100)
        #expect(pair.farEvents.digitString == "1234#")
        #expect(pair.farEvents.digits.allSatisfy { $0.source == .inBand })
    }

    /// `w` and `W` pause 0.5 s and 1 s between keys, for events and tones alike.
    @Test(arguments: [DTMFSendMode.automatic, .inBand])
    func pausesSpaceTheDigits(mode: DTMFSendMode) throws {
        let shard = MediaShard(index: 0, clock: .manual)
        var sending = VoiceChannelOptions()
        sending.dtmfSendMode = mode
        let pair = try LegPair(shard: shard, nearOptions: sending)
        shard.advance(ticks: 5)
        try shard.queue.sync { try pair.near.sendDTMF("1w2W3") }
        shard.advance(ticks: 150)
        let digits = pair.farEvents.digits
        #expect(String(digits.map(\.key.character)) == "123")
        guard digits.count == 3 else { return }
        // Digit period 160 ms, plus the pause.
        #expect(digits[1].atMilliseconds - digits[0].atMilliseconds == 160 + 500)
        #expect(digits[2].atMilliseconds - digits[1].atMilliseconds == 160 + 1000)
    }

    @Test func refusesWhatIsNotAKey() throws {
        let shard = MediaShard(index: 0, clock: .manual)
        let pair = try LegPair(shard: shard)
        #expect(throws: DTMFStringError.self) { try shard.queue.sync { try pair.near.sendDTMF("12x") } }
    }

    @Test func redundantEndPacketsAndStragglersRepeatNothing() {
        var receiver = TelephoneEventReceiver()
        let start = TelephoneEvent(event: 5, end: false, volume: 10, duration: 160)
        let end = TelephoneEvent(event: 5, end: true, volume: 10, duration: 800)
        #expect(receiver.receive(start, timestamp: 1000, tick: 1) == DTMFKey("5"))
        #expect(receiver.isActive(1))
        #expect(receiver.receive(start, timestamp: 1000, tick: 2) == nil)
        for tick in 3...5 as ClosedRange<UInt64> { #expect(receiver.receive(end, timestamp: 1000, tick: tick) == nil) }
        #expect(!receiver.isActive(6))
        // An older event's late packet is not a new press; the next press is.
        #expect(receiver.receive(end, timestamp: 500, tick: 6) == nil)
        #expect(receiver.receive(end, timestamp: 2280, tick: 7) == DTMFKey("5"))
        // A far end that restarted its timestamps far behind: a new press, not a straggler.
        #expect(receiver.receive(start, timestamp: 2280 &- 50_000, tick: 30) == DTMFKey("5"))
    }

    @Test func senderPacesToneEndAndGap() {
        var sender = TelephoneEventSender(toneTicks: 5, gapTicks: 3)
        let queued = sender.enqueue(DTMFKey("7")!)
        #expect(queued)
        var packets: [TelephoneEventSender.Packet?] = []
        for i in 0..<9 { packets.append(sender.next(timestamp: 8000 + UInt32(i) * 160).packet) }
        #expect(packets[0] == .init(event: .init(event: 7, end: false, volume: 10, duration: 160), timestamp: 8000, marker: true))
        #expect(packets[3]?.event.end == false && packets[3]?.event.duration == 640)
        for i in 4...6 {
            #expect(packets[i] == .init(event: .init(event: 7, end: true, volume: 10, duration: 800), timestamp: 8000, marker: false))
        }
        #expect(packets[7] == nil)
        #expect(sender.pending == 0 && packets[8] == nil)
    }
}
