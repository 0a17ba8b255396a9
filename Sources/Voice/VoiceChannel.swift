import Dispatch
import Media

/// One voice call leg's media on a shard, every 20 ms: RTP in through the jitter buffer and
/// G.711 (lost frames concealed with silence), RFC 4733 and in-band DTMF detection, the outgoing
/// audio (silence, a playback, or the bridge peer's received audio) with RFC 4733 or in-band
/// digits, RTP out, and an optional two-channel recording. Confined to its shard queue: commands
/// from other threads come through `shard.perform { ... }`. Nothing in `tick` logs or locks, but for an attached media
/// stream's port (one mutex held for a 160-byte copy, then a wake-up of its writer); it
/// allocates only while recording (one block a second). RFC 3550 section 5.1, RFC 4733 section 2.5
public final class VoiceChannel: MediaTickable, @unchecked Sendable {
    /// Samples per 20 ms tick at 8 kHz. RFC 3551 section 4.5.14
    static let frameSamples = 160
    private static let blockSamples = 40
    private static let maxDigitsKept = 256

    /// The shard that owns this channel.
    public let shard: MediaShard
    private let transport: PacketTransport
    private var law: G711Law
    private var payloadType: UInt8
    private var eventPayloadType: UInt8?
    private let options: VoiceChannelOptions
    private let jitter: JitterBuffer
    private let detector: DTMFDetector?
    private let generator: DTMFGenerator
    private var eventReceiver = TelephoneEventReceiver()
    private var eventSender: TelephoneEventSender
    private var dedupe = DigitDeduplicator()
    private var watch: MediaWatch
    private let onEvent: @Sendable (VoiceEvent) -> Void

    private let receiveBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
    private let sendBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: RTPHeader.fixedSize + 160, alignment: 8)
    private let g711Frame = UnsafeMutableRawBufferPointer.allocate(byteCount: 160, alignment: 8)
    private let valid = UnsafeMutableBufferPointer<Bool>.allocate(capacity: 160 / 40)
    private let eventPayload = UnsafeMutableRawBufferPointer.allocate(byteCount: TelephoneEvent.size, alignment: 8)
    private let digitsKept = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: maxDigitsKept)
    /// What the far end sent us this tick, decoded; the bridge peer sends it on. ITU-T G.711
    let heard = UnsafeMutableBufferPointer<Int16>.allocate(capacity: frameSamples)
    /// What we send this tick, before G.711.
    private let said = UnsafeMutableBufferPointer<Int16>.allocate(capacity: frameSamples)

    private var txHeader: RTPHeader
    private var finished = false
    private var report = VoiceReport(reason: .stopped, seconds: 0)
    private var firstTick: UInt64 = 0
    private var currentTick: UInt64 = 0
    private var digitCount = 0
    /// This tick's step of the digit scheduler, from composing the audio to sending the packets.
    private var step = TelephoneEventSender.Step()

    // Outgoing audio.
    private var playback: Playback?
    /// The other leg of a bridge on this shard; cleared by `unbridge` and when either ends. RFC 7092 section 3.1
    var bridgePeer: VoiceChannel?
    /// Send silence instead of the peer's audio (mute of the direction peer -> our far end). RFC 7092 section 3.1
    var bridgeInputMuted = false
    /// The hold music playback's id while this leg is held. RFC 6337 section 5.3
    var holdPlaybackID: Int?
    private var recorder: VoiceRecorder?
    /// Listens to the received audio (fax detection on `auto` numbers); dropped once it declines.
    private var tap: (any VoiceAudioTap)?
    /// The call's media stream to an application, if one runs: it hears both directions each
    /// tick and, when bidirectional, supplies the outgoing audio. Twilio Media Streams
    private var stream: MediaStreamPort?
    /// Send silence to the far end instead of the composed audio (DTMF still sounds).
    private var muted = false
    /// The far end is not expected to send (we put it on hold, or it is send-only toward us's
    /// opposite): silence is not counted against the watchdog. RFC 3264 section 8.4
    private var farEndQuietByDesign = false

    /// A prompt being played and where it is.
    private struct Playback {
        var prompt: VoicePrompt
        var id: Int
        var loop: Bool
        var position = 0
        var started = false
    }

    /// - Parameters:
    ///   - shard: the shard that will tick it (the caller adds it with `shard.add`).
    ///   - transport: the call's RTP socket (or a `MemoryPipe` end in tests).
    ///   - law/payloadType: the negotiated G.711 codec, both directions.
    ///   - telephoneEventPayloadType: the negotiated telephone-event payload type (usually 101), or
    ///     nil when the far end did not offer it (digits are then sent in-band).
    ///   - ssrc: our RTP source; also seeds the first sequence number and timestamp.
    ///   - onEvent: digits, playback and recording events and the final report; must only enqueue.
    /// RFC 3550 section 5.1, RFC 4733 section 2.5, spandsp: dtmf_rx_init, dtmf_tx_init
    public init(shard: MediaShard, transport: PacketTransport, law: G711Law, payloadType: UInt8,
                telephoneEventPayloadType: UInt8?, options: VoiceChannelOptions = VoiceChannelOptions(),
                ssrc: UInt32, tap: (any VoiceAudioTap)? = nil, onEvent: @escaping @Sendable (VoiceEvent) -> Void) throws(VoiceError) {
        self.shard = shard
        self.tap = tap
        self.transport = transport
        self.law = law
        self.payloadType = payloadType
        self.eventPayloadType = telephoneEventPayloadType
        self.options = options
        self.onEvent = onEvent
        jitter = JitterBuffer(depthSamples: options.jitterMilliseconds * 8, capacitySamples: 4096,
                              blockSamples: Self.blockSamples, silenceByte: law.silenceByte)
        detector = options.detectInBandDTMF ? try DTMFDetector() : nil
        let toneTicks = max(2, (options.dtmfToneMilliseconds + 10) / 20)
        let gapTicks = max(2, (options.dtmfGapMilliseconds + 10) / 20)
        // The generator gets the rounded lengths too, so both forms of a digit stay in step.
        generator = try DTMFGenerator(toneMilliseconds: toneTicks * 20, gapMilliseconds: gapTicks * 20)
        eventSender = TelephoneEventSender(toneTicks: toneTicks, gapTicks: gapTicks)
        watch = MediaWatch(silenceTimeoutSeconds: options.silenceTimeoutSeconds, maxCallSeconds: options.maxCallSeconds)
        txHeader = RTPHeader(payloadType: payloadType, marker: true,
                             sequenceNumber: UInt16(truncatingIfNeeded: ssrc >> 7),
                             timestamp: ssrc &* 2654435761, ssrc: ssrc)
        heard.initialize(repeating: 0)
        said.initialize(repeating: 0)
    }

    deinit {
        receiveBuffer.deallocate()
        sendBuffer.deallocate()
        g711Frame.deallocate()
        valid.deallocate()
        eventPayload.deallocate()
        digitsKept.deallocate()
        heard.deallocate()
        said.deallocate()
    }

    /// Traps in debug builds when called off the owning shard's queue. libdispatch: dispatch_assert_queue
    @inline(__always)
    func assertOnShard() {
        #if DEBUG
        dispatchPrecondition(condition: .onQueue(shard.queue))
        #endif
    }

    // MARK: Commands (shard queue)

    /// Switches codec and telephone-event payload type after a re-INVITE. Shard queue. RFC 3264 section 8
    public func changeCodec(law: G711Law, payloadType: UInt8, telephoneEventPayloadType: UInt8?) {
        assertOnShard()
        self.law = law
        self.payloadType = payloadType
        eventPayloadType = telephoneEventPayloadType
        txHeader.payloadType = payloadType
    }

    /// Queues digits to send, each `dtmfToneMilliseconds` long with `dtmfGapMilliseconds` after
    /// it, `w` and `W` pausing 0.5 s and 1 s: RFC 4733 events when telephone-event was negotiated
    /// (and the mode allows), spandsp tones in the audio otherwise or as well. Throws on a
    /// character that is neither a key nor a pause, or when 64 steps already wait. Shard queue.
    /// RFC 4733 section 2.5.1, spandsp: dtmf_tx_put
    public func sendDTMF(_ digits: String) throws(DTMFStringError) {
        assertOnShard()
        var steps: [UInt8] = []
        for character in digits {
            if character == "w" || character == "W" {
                steps.append(character == "W" ? TelephoneEventSender.longPause : TelephoneEventSender.shortPause)
            } else if let key = DTMFKey(character) {
                steps.append(key.eventCode)
            } else {
                throw DTMFStringError(description: "dtmf: '\(digits)' holds '\(character)', which is not a DTMF key or pause (expected 0-9, *, #, A-D, w, W)")
            }
        }
        guard eventSender.pending + steps.count <= TelephoneEventSender.capacity else {
            throw DTMFStringError(description: "dtmf: \(eventSender.pending) digits are still waiting; send '\(digits)' once they are out")
        }
        for step in steps {
            if let key = DTMFKey(eventCode: step) {
                _ = eventSender.enqueue(key)
                report.digitsSent += 1
            } else {
                _ = eventSender.enqueuePause(long: step == TelephoneEventSender.longPause)
            }
        }
    }

    /// Plays a prompt instead of the current outgoing audio (a bridge resumes after it); replaces
    /// a playback in progress. Reports started on its first frame and ended at its end (never for
    /// a loop, until stopped). Shard queue. RIFF WAVE (Microsoft)
    public func play(_ prompt: VoicePrompt, loop: Bool = false, id: Int = 0) {
        assertOnShard()
        endPlayback(.stopped)
        playback = Playback(prompt: prompt, id: id, loop: loop)
    }

    /// Stops the playback, if any; outgoing audio returns to the bridge or silence. Shard queue. RIFF WAVE (Microsoft)
    public func stopPlayback() {
        assertOnShard()
        endPlayback(.stopped)
    }

    /// Sends silence instead of this leg's outgoing audio (playback or bridge), or stops doing
    /// so; digits sent with `sendDTMF` still go out. Shard queue. RFC 3550 section 5.1 (packets keep flowing)
    public func setMuted(_ muted: Bool) {
        assertOnShard()
        self.muted = muted
    }

    /// True while muted. Shard queue.
    public var isMuted: Bool { muted }

    /// Tells the watchdog whether the far end may stop sending (it was put on hold with
    /// a=sendonly, so it answers recvonly and sends no RTP): the silence timeout does not run
    /// while this is true. The call's maximum length still does. Shard queue. RFC 3264 section 8.4
    public func setFarEndQuiet(_ quiet: Bool) {
        assertOnShard()
        farEndQuietByDesign = quiet
    }

    /// True while a prompt plays. Shard queue.
    public var isPlaying: Bool { playback != nil }

    /// Starts (or, with nil, stops) feeding a media stream: from the next tick it gets the
    /// audio of both directions and the digits heard, and its queued application audio is what
    /// the far end hears when no prompt plays (before the bridge peer's audio). A stream being
    /// replaced is told its media ended. Shard queue. Twilio Media Streams
    public func attachStream(_ port: MediaStreamPort?) {
        assertOnShard()
        if let old = stream, old !== port { old.end() }
        stream = port
    }

    /// Starts recording both directions into a stereo WAV at `path`, from the next tick: by
    /// default left is what the far end sent and right what we sent; `farEndLeft` false swaps
    /// them (a call faxd placed records the caller, faxd's side, on the left). A recording in
    /// progress is stopped and written first. Shard queue. RIFF WAVE (Microsoft)
    public func startRecording(to path: String, farEndLeft: Bool = true) {
        assertOnShard()
        stopRecording()
        // A call without a limit still records at most 4 hours: the block list is reserved up front.
        recorder = VoiceRecorder(path: path, maxSeconds: options.maxCallSeconds > 0 ? options.maxCallSeconds : 4 * 3600,
                                 receivedLeft: farEndLeft)
    }

    /// Stops recording and writes the WAV on a utility queue; `recordingSaved` or
    /// `recordingFailed` follows from there. No-op when not recording. Shard queue. RIFF WAVE (Microsoft)
    public func stopRecording() {
        assertOnShard()
        guard let recorder else { return }
        self.recorder = nil
        let onEvent = self.onEvent
        DispatchQueue.global(qos: .utility).async {
            do throws(VoiceError) {
                onEvent(.recordingSaved(try recorder.write()))
            } catch {
                onEvent(.recordingFailed(path: recorder.path, reason: error.description))
            }
        }
    }

    /// True while recording. Shard queue.
    public var isRecording: Bool { recorder != nil }

    /// One-second blocks the recording in progress has allocated (0 when not recording). Shard queue.
    var recordingBlocks: Int { recorder?.blockCount ?? 0 }

    /// Stops the call now (hangup, shutdown) and reports. Shard queue. Idempotent. RFC 3550 section 6.3.7
    public func stop() {
        assertOnShard()
        finish(.stopped)
    }

    // MARK: The tick

    /// One 20 ms step: receive, detect, compose, send, record, watch. RFC 3550 section 5.1
    public func tick(_ tick: UInt64) -> Bool {
        if finished { return false }
        if firstTick == 0 { firstTick = tick }
        currentTick = tick
        watch.begin(tick)
        if farEndQuietByDesign { watch.heard(tick) }
        receivePackets(tick)
        receiveAudio(tick)
        if let tap, tap.listen(UnsafeBufferPointer(heard), tick: Int(tick - firstTick)) {
            finish(.handedOver)
            return false
        }
        composeAudio()
        transmit()
        stream?.capture(heard: UnsafeBufferPointer(heard), said: UnsafeBufferPointer(said))
        recorder?.append(received: UnsafeBufferPointer(heard), sent: UnsafeBufferPointer(said))
        switch watch.expired(tick) {
        case .silence(let seconds): finish(.mediaTimeout(seconds: seconds))
        case .duration(let seconds): finish(.maxDuration(seconds: seconds))
        case nil: break
        }
        return !finished
    }

    private func receivePackets(_ tick: UInt64) {
        // Bounded: a flood on one socket must not starve the other channels of this shard.
        for _ in 0..<16 {
            guard let datagram = RTPDatagram.next(from: transport, into: receiveBuffer) else { return }
            let packet: RTPPacket
            switch datagram {
            case .rtcp:
                report.rtcpReceived += 1
                continue
            case .malformed:
                report.malformed += 1
                continue
            case .packet(let parsed):
                packet = parsed
            }
            let pt = packet.header.payloadType
            if pt == payloadType {
                report.packetsReceived += 1
                transport.confirmSource()
                watch.heard(tick)
                _ = jitter.insert(timestamp: packet.header.timestamp, payload: packet.payload)
            } else if pt == eventPayloadType, let event = TelephoneEvent.parse(packet.payload) {
                report.eventPacketsReceived += 1
                transport.confirmSource()
                watch.heard(tick)
                // Events skip the jitter buffer: a digit is reported as soon as it starts.
                if let key = eventReceiver.receive(event, timestamp: packet.header.timestamp, tick: tick) {
                    digit(key, .rfc4733, tick)
                }
            } else {
                // Comfort noise and unnegotiated types are accepted on the wire and ignored.
                report.otherPayloadTypes += 1
            }
        }
    }

    private func receiveAudio(_ tick: UInt64) {
        switch jitter.pop(frameSamples: Self.frameSamples, into: g711Frame, validBlocks: valid) {
        case .buffering:
            heard.update(repeating: 0)
            return
        case .frame(let missing):
            // Missing blocks read as the law's silence byte: concealment by silence.
            _ = G711.decode(law, UnsafeRawBufferPointer(g711Frame), into: heard)
            if missing > 0 { report.framesConcealed += 1 }
        }
        guard let detector else { return }
        detector.process(UnsafeBufferPointer(heard)) { key in digit(key, .inBand, tick) }
    }

    private func digit(_ key: DTMFKey, _ source: DTMFSource, _ tick: UInt64) {
        guard dedupe.admit(key, source: source, tick: tick, eventInProgress: eventReceiver.isActive(tick)) else {
            report.digitsDeduplicated += 1
            return
        }
        if digitCount < Self.maxDigitsKept { digitsKept[digitCount] = key.ascii }
        digitCount += 1
        if source == .inBand { report.inBandDigits += 1 }
        stream?.digit(Character(Unicode.Scalar(key.ascii)))
        onEvent(.dtmf(DTMFDigit(key: key, source: source, atMilliseconds: Int(tick - firstTick) * 20)))
    }

    private func composeAudio() {
        if var current = playback {
            if !current.started {
                current.started = true
                onEvent(.playbackStarted(id: current.id, name: current.prompt.name))
            }
            current.prompt.samples.withUnsafeBufferPointer { source in
                for i in 0..<Self.frameSamples {
                    if current.position == source.count && current.loop { current.position = 0 }
                    // Past the end of a prompt played once: silence to the end of the frame.
                    if current.position < source.count {
                        said[i] = source[current.position]
                        current.position += 1
                    } else {
                        said[i] = 0
                    }
                }
            }
            playback = current
            // Ends after its last frame went out; the next tick returns to the bridge or silence.
            if !current.loop && current.position >= current.prompt.samples.count { endPlayback(.finished) }
        } else if let stream, stream.playout(into: said) {
            // The application's audio (a bidirectional media stream) this tick.
        } else if let peer = bridgePeer, !bridgeInputMuted {
            _ = said.update(fromContentsOf: peer.heard)
        } else {
            said.update(repeating: 0)
        }
        if muted { said.update(repeating: 0) }
        // The digit scheduler decides, for events and tones alike: a key starting in this tick
        // is handed to spandsp now and sounds from this frame on, in step with its events.
        step = eventSender.next(timestamp: txHeader.timestamp)
        if let key = step.started, eventPayloadType == nil || options.dtmfSendMode != .automatic {
            _ = generator.put(key)
        }
        // In-band digits replace the audio while they sound (spandsp: dtmf_tx).
        _ = generator.generate(into: said)
    }

    private func endPlayback(_ reason: PlaybackEndReason) {
        guard let current = playback else { return }
        playback = nil
        if current.started || reason == .finished {
            onEvent(.playbackEnded(id: current.id, name: current.prompt.name, reason: reason))
        }
    }

    private func transmit() {
        _ = G711.encode(law, UnsafeBufferPointer(said), into: g711Frame)
        send(header: txHeader, payload: UnsafeRawBufferPointer(g711Frame))
        report.packetsSent += 1
        txHeader.marker = false
        if let pt = eventPayloadType, options.dtmfSendMode != .inBand, let packet = step.packet {
            packet.event.write(into: eventPayload)
            var header = txHeader
            header.payloadType = pt
            header.timestamp = packet.timestamp
            header.marker = packet.marker
            send(header: header, payload: UnsafeRawBufferPointer(eventPayload))
            report.eventPacketsSent += 1
        }
        txHeader.timestamp &+= UInt32(Self.frameSamples)
    }

    /// One packet out; audio and events share the sequence numbers. RFC 4733 section 2.1
    private func send(header: RTPHeader, payload: UnsafeRawBufferPointer) {
        let written = writeRTP(header: header, payload: payload, into: sendBuffer)
        if written > 0 { transport.send(UnsafeRawBufferPointer(rebasing: sendBuffer[0..<written])) }
        txHeader.sequenceNumber &+= 1
    }

    private func finish(_ reason: VoiceEndReason) {
        guard !finished else { return }
        finished = true
        endPlayback(.hangup)
        stopRecording()
        unbridge()
        stream?.end()
        stream = nil
        let stats = jitter.statistics
        report.reason = reason
        report.seconds = firstTick == 0 ? 0 : Double(currentTick - firstTick + 1) / 50
        report.jitterLate = stats.late
        report.jitterResyncs = stats.resyncs
        report.remote = transport.remoteDescription
        report.digitsReceived = String(decoding: UnsafeBufferPointer(rebasing: digitsKept[0..<min(digitCount, Self.maxDigitsKept)]), as: UTF8.self)
        onEvent(.finished(report))
    }
}
