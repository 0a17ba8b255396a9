import Dispatch
import Fax
import Foundation
import Logging
import Media
import SIP
import Voice

/// Voice legs (issue 16): the same SIP dialogs, sockets and shards as faxes, with a `VoiceChannel`
/// for media. The engine does what it is told (`voice(_:_:)`) and reports what happens
/// (`VoiceLegSignal`); the decisions (when to answer, hang up, which webhook) are the voice
/// service's, above the engine. SIP thread, like the rest of the orchestrator.
extension CallOrchestrator {
    final class VoiceHandlerBox: Sendable {
        let handle: @Sendable (String, VoiceLegSignal) -> Void
        init(_ handle: @escaping @Sendable (String, VoiceLegSignal) -> Void) { self.handle = handle }
    }

    /// Installs the handler every voice leg's signals go to, with the leg's id (call_control_id).
    /// Called on the SIP thread, a shard or a utility queue: it must only enqueue. Set it before `start`.
    public func onVoice(_ handler: @escaping @Sendable (String, VoiceLegSignal) -> Void) {
        voiceHandler.withLock { $0 = VoiceHandlerBox(handler) }
    }

    /// Places a voice call; `.dialed` (or `.failed` then `.ended` when it cannot be placed) follows.
    public func dial(_ call: OutboundVoiceCall) {
        if !agent.post({ [self] in placeVoiceCall(call) }) {
            let handler = voiceHandler.withLock { $0 }
            handler?.handle(call.id, .failed(sipStatus: 0, reason: "faxd is shutting down"))
            handler?.handle(call.id, .ended(VoiceLegSummary(sipCallID: nil, media: nil, sipStatus: 0)))
        }
    }

    /// Carries out a command on leg `id`; `done` gets nil, or why it could not be done (on the
    /// SIP thread or the leg's shard; it must not block).
    public func voice(_ id: String, _ command: VoiceLegCommand, done: @escaping @Sendable (String?) -> Void = { _ in }) {
        let posted = agent.post { [self] in
            guard let handle = voiceLegs[id], let call = calls[handle], let voice = call.voice else {
                done("call \(id.prefix(80)) has no SIP leg here (it ended)")
                return
            }
            perform(command, on: call, voice, done: done)
        }
        if !posted { done("faxd is shutting down") }
    }

    /// The knobs of a voice leg, from the media settings.
    public var voiceOptions: VoiceChannelOptions {
        var options = VoiceChannelOptions()
        options.jitterMilliseconds = configuration.voice.jitterMilliseconds
        options.maxCallSeconds = configuration.media.maxCallSeconds
        return options
    }

    func signal(_ call: Call, _ signal: VoiceLegSignal) {
        voiceHandler.withLock { $0 }?.handle(call.uuid, signal)
    }

    // MARK: Placing a call

    private func placeVoiceCall(_ dial: OutboundVoiceCall) {
        let handler = voiceHandler.withLock { $0 }
        func fail(_ status: Int, _ reason: String) {
            logger.notice("voice call not placed", metadata: ["uuid": "\(dial.id)", "reason": "\(reason)"])
            handler?.handle(dial.id, .failed(sipStatus: status, reason: reason))
            handler?.handle(dial.id, .ended(VoiceLegSummary(sipCallID: nil, media: nil, sipStatus: status)))
        }
        guard voiceLegs[dial.id] == nil else { return fail(0, "call \(dial.id) is already in progress") }
        let target: OutboundTarget
        switch outboundTarget(dial.destination, trunkName: dial.trunk) {
        case .success(let found): target = found
        case .failure(let problem): return fail(0, problem.reason)
        }
        let socket: UDPSocket
        do {
            socket = try media.openSocket()
        } catch {
            return fail(503, "cannot open an RTP socket: \(error)")
        }
        let callerID = dial.callerID ?? target.trunk?.callerID ?? "faxd"
        let origin = SDPOrigin(username: "faxd", sessionID: UInt64.random(in: 1...(1 << 40)), sessionVersion: 1, address: sdpAddress)
        let offer = SessionDescription.audioOffer(origin: origin, address: sdpAddress, port: socket.localPort,
                                                  codecs: target.trunk?.codecs ?? [.pcmu, .pcma])
        guard let handle = agent.invite(requestURI: target.requestURI, from: fromHeader(callerID), to: nil, route: target.route,
                                        sdp: offer.render()) else {
            socket.close()
            return fail(0, "sofia-sip could not create the INVITE for \(target.requestURI)")
        }
        let call = Call(uuid: dial.id, direction: .outbound, handle: handle, job: nil, options: configuration.fax.options)
        call.voice = VoiceLegState(options: dial.options)
        // A leg dialled to be bridged with another runs on that leg's shard (a bridge reads both legs' frames in one queue).
        if let other = dial.linkTo.flatMap({ voiceLegs[$0] }).flatMap({ calls[$0] }) {
            call.voice?.shard = other.voice?.channel?.shard ?? other.shard
        }
        call.trunk = target.trunk
        call.t38Mode = .off
        call.socket = socket
        call.localSDP = offer
        call.awaitingAnswer = true
        call.localNumber = PhoneNumber.normalize(callerID)
        call.remoteNumber = SIPURI.number(target.requestURI)
        track(call)
        voiceLegs[dial.id] = handle
        logger.info("dialing (voice)", metadata: ["uuid": "\(dial.id)", "to": "\(target.requestURI)", "trunk": "\(target.trunk?.name ?? "-")"])
        signal(call, .dialed)
    }

    // MARK: Answers and media

    /// The 200 OK to our voice INVITE: read the SDP answer and start the leg's media.
    func voiceAnswered(_ call: Call, _ event: SIPEvent) {
        guard case .sdp(let body) = event.offer, let answer = try? SessionDescription(parsing: body), let offered = call.localSDP else {
            signal(call, .answered)
            endVoiceLeg(call, reason: "the 200 OK carried no SDP answer")
            return
        }
        do {
            switch try SDPNegotiator.readAnswer(answer, to: offered, local: SDPCapabilities(codecs: call.trunk?.codecs ?? [.pcmu, .pcma], t38: nil)) {
            case .audio(let audio):
                signal(call, .answered)
                startVoiceMedia(call, plan: audio)
            case .image:
                signal(call, .answered)
                endVoiceLeg(call, reason: "the far end answered a voice call with a T.38 stream")
            }
        } catch {
            signal(call, .answered)
            endVoiceLeg(call, reason: "unusable SDP answer: \(error.reason)")
        }
    }

    /// Ends an answered voice leg that cannot run: BYE, and the application hears a failure.
    private func endVoiceLeg(_ call: Call, reason: String) {
        logger.notice("voice call ended by faxd", metadata: ["uuid": "\(call.uuid)", "reason": "\(reason)"])
        if let voice = call.voice, !voice.endSignaled {
            voice.endSignaled = true
            signal(call, .failed(sipStatus: 488, reason: reason))
        }
        hangUp(call, cause: .setupFailed, detail: reason)
    }

    /// Gives an answered voice call its channel on a shard.
    func startVoiceMedia(_ call: Call, plan: NegotiatedAudio) {
        guard let voice = call.voice, voice.channel == nil, let socket = call.socket else { return }
        do {
            try socket.setRemote(host: plan.remoteHost, port: plan.remotePort)
        } catch {
            endVoiceLeg(call, reason: "remote media address \(plan.remoteHost):\(plan.remotePort): \(error)")
            return
        }
        call.codec = plan.codec
        call.payloadType = plan.payloadType
        let shard = voice.shard ?? media.leastLoadedShard()
        let handle = call.handle, id = call.uuid
        let handler = voiceHandler.withLock { $0 }
        let channel: VoiceChannel
        do {
            var tap: FaxToneTap?
            if voice.autoFax {
                let seconds = configuration.voice.faxDetectSeconds
                tap = FaxToneTap(listener: try CallingToneListener(), windowTicks: seconds * 50) { fax in
                    // Only "no fax" is told from here; a fax is told once the channel handed over.
                    if !fax { handler?.handle(id, .faxDetection(fax: false, file: nil)) }
                }
            }
            channel = try VoiceChannel(shard: shard, transport: socket, law: plan.law, payloadType: plan.payloadType,
                                       telephoneEventPayloadType: plan.telephoneEvent, options: voice.options,
                                       ssrc: UInt32.random(in: 1...UInt32.max), tap: tap) { [agent] event in
                if case .finished(let report) = event {
                    // Through the SIP thread, so the report is recorded before the leg's `.ended`.
                    _ = agent.post { [self] in voiceMediaFinished(handle, report) }
                } else {
                    handler?.handle(id, .media(event))
                }
            }
        } catch {
            endVoiceLeg(call, reason: "cannot start the voice channel: \(error)")
            return
        }
        voice.channel = channel
        call.channel = channel
        call.shard = shard
        shard.add(channel)
        logger.info("voice media", metadata: ["uuid": "\(id)", "codec": "\(plan.codec.encodingName)",
                                              "telephone_event": "\(plan.telephoneEvent.map(String.init) ?? "-")", "shard": "\(shard.index)"])
    }

    private func voiceMediaFinished(_ handle: SIPHandle, _ report: VoiceReport) {
        guard let call = calls[handle], let voice = call.voice else { return }
        if report.reason == .handedOver && call.phase == .answered {
            becomeFax(call, voice)
            return
        }
        voice.report = report
        voice.mediaFinished = true
        logger.info("voice media ended", metadata: ["uuid": "\(call.uuid)", "reason": "\(report.reason)", "seconds": "\(report.seconds)",
                                                    "rtp_in": "\(report.packetsReceived)", "rtp_out": "\(report.packetsSent)",
                                                    "concealed": "\(report.framesConcealed)", "digits_in": "\(report.digitsReceived)",
                                                    "digits_out": "\(report.digitsSent)"])
        signal(call, .media(.finished(report)))
        finishIfDone(call)
    }

    /// An `auto` call heard CNG: the same socket goes on with a receiving fax terminal; the
    /// call is a fax call from now on (its outcome goes to the outcome handlers), and the voice
    /// service hears `faxDetection` now and `faxEnded` at its end.
    private func becomeFax(_ call: Call, _ voice: VoiceLegState) {
        guard let socket = call.socket, let job = call.job, let codec = call.codec, let payloadType = call.payloadType else {
            endVoiceLeg(call, reason: "fax heard but the call cannot switch to the fax terminal")
            return
        }
        signal(call, .faxDetection(fax: true, file: job.path))
        logger.info("fax tone heard on an auto number: receiving as fax", metadata: ["uuid": "\(call.uuid)"])
        let terminal: AudioFaxTerminal
        do {
            terminal = try AudioFaxTerminal(job: job, callingParty: false, options: call.options, progress: call.progress)
        } catch {
            endVoiceLeg(call, reason: "cannot start the fax terminal: \(error)")
            return
        }
        call.voice = nil
        call.becameFax = true
        voiceLegs[call.uuid] = nil
        let handle = call.handle
        let settings = configuration.media
        let channel = AudioChannel(transport: socket, law: codec == .pcmu ? .mulaw : .alaw, payloadType: payloadType, terminal: terminal,
                                   jitterMilliseconds: settings.jitterMilliseconds, silenceTimeoutSeconds: settings.silenceTimeoutSeconds,
                                   maxCallSeconds: settings.maxCallSeconds, ssrc: UInt32.random(in: 1...UInt32.max)) { [agent] report in
            agent.post { [self] in channelFinished(handle, report) }
        }
        let shard = voice.channel?.shard ?? media.leastLoadedShard()
        call.channel = channel
        call.shard = shard
        shard.add(channel)
    }

    // MARK: Commands

    private func perform(_ command: VoiceLegCommand, on call: Call, _ voice: VoiceLegState, done: @escaping @Sendable (String?) -> Void) {
        switch command {
        case .answer:
            guard call.direction == .inbound, call.phase == .setup else { return done("the call is not a ringing inbound call") }
            answer(call, agreement: call.pendingPlan)
            done(nil)
        case .reject(let status):
            guard call.direction == .inbound, call.phase == .setup else { return done("the call is not a ringing inbound call") }
            voice.endSignaled = true
            reject(call, status, "rejected by the application")
            done(nil)
        case .cancel, .bye:
            voice.endSignaled = true
            hangUp(call, cause: .cancelled, detail: "hung up by the application")
            done(nil)
        case .sendDTMF(let digits):
            onChannel(call, voice, done) { channel in
                do throws(DTMFStringError) { try channel.sendDTMF(digits) } catch { return error.description }
                return nil
            }
        case .play(let prompt, let loop, let id):
            onChannel(call, voice, done) { $0.play(prompt, loop: loop, id: id); return nil }
        case .stopPlayback:
            onChannel(call, voice, done) { $0.stopPlayback(); return nil }
        case .startRecording(let path):
            // Caller left, callee right: faxd is the caller of the calls it places.
            let farEndLeft = call.direction == .inbound
            onChannel(call, voice, done) { $0.startRecording(to: path, farEndLeft: farEndLeft); return nil }
        case .stopRecording:
            onChannel(call, voice, done) { $0.stopRecording(); return nil }
        case .mute(let muted):
            onChannel(call, voice, done) { $0.setMuted(muted); return nil }
        case .stream(let port):
            onChannel(call, voice, done) { $0.attachStream(port); return nil }
        case .hold(let held, let music):
            guard call.phase == .answered, var sdp = call.localSDP, let socket = call.socket else { return done("the call is not answered") }
            // RFC 3264 section 8.4: hold is an offer with a=sendonly; resume goes back to sendrecv.
            sdp.media = [audioSection(call, port: socket.localPort, direction: held ? .sendonly : .sendrecv)]
            sdp.bumpVersion()
            call.localSDP = sdp
            voice.reinvitePending = true
            agent.reinvite(call.handle, sdp: sdp.render())
            onChannel(call, voice, done) { channel in
                if held {
                    if channel.isBridged { channel.hold(music: music) } else { channel.play(music, loop: true) }
                } else {
                    if channel.isHeld { channel.unhold() } else { channel.stopPlayback() }
                }
                channel.setFarEndQuiet(held)
                return nil
            }
        case .bridge(let otherID):
            guard let otherHandle = voiceLegs[otherID], let other = calls[otherHandle], let otherVoice = other.voice else {
                return done("call \(otherID.prefix(80)) is not in progress here")
            }
            guard let a = voice.channel, let b = otherVoice.channel else { return done("both calls must be answered before they are bridged") }
            guard a.shard === b.shard else {
                return done("the two calls run on different media shards; dial the second with link_to the first so they share one")
            }
            a.shard.perform {
                VoiceChannel.bridge(a, b)
                done(nil)
            }
        }
    }

    /// Runs `body` on the leg's channel on its shard; `done` gets what it returns.
    private func onChannel(_ call: Call, _ voice: VoiceLegState, _ done: @escaping @Sendable (String?) -> Void,
                           _ body: @escaping @Sendable (VoiceChannel) -> String?) {
        guard let channel = voice.channel else { return done("the call has no media yet (not answered)") }
        channel.shard.perform { done(body(channel)) }
    }

    /// The answer to our hold/resume re-INVITE: follow a new address; a refusal leaves the media as it is.
    func voiceReinviteAnswered(_ call: Call, _ event: SIPEvent) {
        guard event.status >= 200 else { return }
        call.voice?.reinvitePending = false
        guard (200..<300).contains(event.status) else {
            logger.notice("hold re-INVITE refused", metadata: ["uuid": "\(call.uuid)", "status": "\(event.status) \(event.phrase)"])
            return
        }
        if case .sdp(let body) = event.offer, let answer = try? SessionDescription(parsing: body), let offered = call.localSDP,
           case .audio(let audio)? = try? SDPNegotiator.readAnswer(answer, to: offered, local: SDPCapabilities(codecs: call.trunk?.codecs ?? [.pcmu, .pcma], t38: nil)) {
            updateMedia(call, plan: audio)
        }
    }
}

/// Listens for CNG on an `auto` number's voice leg for the first `windowTicks`; tells `decided`
/// once (false when the window passed without CNG) and asks the channel to hand over when heard.
/// Shard queue.
final class FaxToneTap: VoiceAudioTap, @unchecked Sendable {
    private let listener: CallingToneListener
    private let windowTicks: Int
    private let decided: @Sendable (Bool) -> Void
    private var done = false

    init(listener: CallingToneListener, windowTicks: Int, decided: @escaping @Sendable (Bool) -> Void) {
        self.listener = listener
        self.windowTicks = windowTicks
        self.decided = decided
    }

    func listen(_ heard: UnsafeBufferPointer<Int16>, tick: Int) -> Bool {
        guard !done else { return false }
        if listener.heardCNG(heard) {
            done = true
            return true
        }
        if tick >= windowTicks {
            done = true
            decided(false)
        }
        return false
    }
}
