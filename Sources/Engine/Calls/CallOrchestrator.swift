import Dispatch
import Fax
import Foundation
import Logging
import Lab
import Media
import SIP
import Synchronization

/// A fax to send.
public struct OutboundFax: Sendable {
    public var uuid: String
    /// "sip:NUMBER@HOST:PORT", or a number to send through `trunk`.
    public var destination: String
    public var trunk: String?
    /// Multi-page TIFF to send.
    public var document: String
    public var options: FaxOptions
    /// Our number for the From header.
    public var callerID: String?
    /// How the fax travels; nil follows the trunk's T.38 policy (accept when there is no trunk).
    public var transport: Transport?
    /// Called once on the SIP thread when the far end answers (200 OK); must not block.
    public var onAnswered: (@Sendable () -> Void)?
    /// Called on the media shard each time the far end confirms a page (MCF), with the pages
    /// confirmed so far in this call; must not block. What a take-over or restart resumes from.
    public var onPagesConfirmed: (@Sendable (Int) -> Void)?
    /// Record both directions of the call's audio (stereo WAV in the archive directory).
    public var record = false
    /// Instead of faxing `document`, play these samples (one channel of a recording, 8 kHz) into
    /// the call and ignore what comes back (`faxd lab replay`); audio only.
    public var replay: [Int16]?

    /// `faxd send --transport`.
    public enum Transport: String, Sendable, CaseIterable {
        /// Audio first, then re-INVITE to T.38 after the answer; a refusal keeps the fax in audio.
        case auto
        /// Audio only: never ask for T.38 and refuse the far end's T.38 re-INVITE.
        case g711
        /// T.38 from the first INVITE (m=image only).
        case t38
    }

    public init(uuid: String = UUID().uuidString.lowercased(), destination: String, trunk: String? = nil,
                document: String, options: FaxOptions, callerID: String? = nil, transport: Transport? = nil) {
        self.uuid = uuid
        self.transport = transport
        self.destination = destination
        self.trunk = trunk
        self.document = document
        self.options = options
        self.callerID = callerID
    }
}

/// The one glue place: turns SIP events into calls, gives each answered call a media channel on a
/// shard, and turns every ended call into one `FaxOutcome`. All its state is confined to the SIP
/// agent thread; public entry points hop there with `agent.post`.
public final class CallOrchestrator: SIPEventHandler, @unchecked Sendable {
    public let configuration: FaxdConfiguration
    public let media: MediaEngine
    public let agent: SIPAgent
    let logger: Logger
    let sdpAddress: String
    var calls: [SIPHandle: Call] = [:]
    private var trunkLoad: [String: Int] = [:]
    /// INVITE token buckets per source address (SIP thread only).
    private var inviteBuckets: [String: TokenBucket] = [:]
    /// Refused calls are logged at most 10 a second (burst 50): the lines of a flood are counted, not written.
    private var refusalLog = LogLimiter(perSecond: 10, burst: 50)
    private let outcomeHandlers = Mutex<[@Sendable (FaxOutcome) -> Void]>([])
    private let callCount = Atomic<Int>(0)
    /// Set by `setDraining`: new calls are refused, calls in progress go on (CallOrchestrator+Drain).
    let draining = Atomic<Bool>(false)
    private var shutdownWaiter: DispatchSemaphore?
    /// Boxed: Swift 6.3's optimizer wraps a closure read out of a `Mutex<Closure?>` with
    /// `withLock { $0 }` in one more reabstraction thunk on every read, so after some 3,600
    /// INVITEs calling the router overflowed the SIP thread's stack (release builds only; found
    /// by faxd-bench, reproduced in a 20-line program). A class reference is not reabstracted.
    private let router = Mutex<RouterBox?>(nil)
    /// Voice legs by call_control_id (SIP thread only).
    var voiceLegs: [String: SIPHandle] = [:]
    /// Where voice legs' signals go (`onVoice`); boxed for the reason `router` is.
    let voiceHandler = Mutex<VoiceHandlerBox?>(nil)

    private final class RouterBox: Sendable {
        let route: InboundRouter
        init(_ route: @escaping InboundRouter) { self.route = route }
    }

    public init(configuration: FaxdConfiguration, media: MediaEngine, logger: Logger) {
        self.configuration = configuration
        self.media = media
        self.logger = logger
        let sip = configuration.sip
        let advertised = sip.publicAddress ?? sip.listenHost
        sdpAddress = advertised
        let hostPart = advertised.contains(":") ? "[\(advertised)]" : advertised
        let listenPart = sip.listenHost.contains(":") ? "[\(sip.listenHost)]" : sip.listenHost
        let port = sip.listenPort == 0 ? "*" : String(sip.listenPort)
        // With a public address sofia binds maddr and advertises the public host in Contact/Via.
        let bindURL = sip.publicAddress == nil ? "sip:\(listenPart):\(port)" : "sip:\(hostPart):\(port);maddr=\(sip.listenHost)"
        agent = SIPAgent(configuration: SIPAgentConfiguration(bindURL: bindURL, userAgent: sip.userAgent,
                                                              sessionTimer: UInt32(sip.sessionTimerSeconds),
                                                              debugLevel: sip.debugLevel, tcpKeepaliveSeconds: sip.tcpKeepaliveSeconds,
                                                              tcpIdleSeconds: configuration.media.maxCallSeconds + 600))
    }

    /// Listens for SIP and starts the media clocks.
    public func start() throws {
        try FileManager.default.createDirectory(atPath: configuration.receiveDirectory, withIntermediateDirectories: true)
        media.start()
        try agent.start(handler: self)
        logger.info("listening", metadata: ["sip": "\(agent.configuration.bindURL)",
                                            "rtp": "\(media.ports.lowerBound)-\(media.ports.upperBound)",
                                            "shards": "\(media.shards.count)"])
    }

    /// Registers a handler for every outcome; called on the SIP thread, must not block.
    public func onOutcome(_ handler: @escaping @Sendable (FaxOutcome) -> Void) {
        outcomeHandlers.withLock { $0.append(handler) }
    }

    /// Installs the DID lookup every inbound call passes before it is answered; without one every
    /// number is accepted. Set it before `start`.
    public func route(with router: @escaping InboundRouter) {
        self.router.withLock { $0 = RouterBox(router) }
    }

    /// Calls in progress now, for operators (from the SIP thread; [] if it does not answer within 1 s).
    public func liveCalls() async -> [LiveCall] {
        await withCheckedContinuation { continuation in
            let once = Mutex(false)
            let resume: @Sendable ([LiveCall]) -> Void = { calls in
                if once.withLock({ done in defer { done = true }; return !done }) { continuation.resume(returning: calls) }
            }
            let posted = agent.post { [self] in resume(calls.values.map { $0.live }.sorted { $0.ageSeconds > $1.ageSeconds }) }
            if !posted { resume([]) } else { DispatchQueue.global().asyncAfter(deadline: .now() + 1) { resume([]) } }
        }
    }

    /// Calls in progress (any phase), readable from any thread.
    public var activeCalls: Int { callCount.load(ordering: .relaxed) }

    /// Places an outbound fax call; `completion` gets its outcome on the SIP thread.
    public func send(_ fax: OutboundFax, completion: @escaping @Sendable (FaxOutcome) -> Void) {
        agent.post { [self] in placeCall(fax, completion: completion) }
    }

    /// Ends every call (BYE, CANCEL or 503), records them as interrupted, then stops SIP and media.
    /// Blocks up to about 8 s. Call from any thread but the SIP thread.
    public func shutdown() {
        let done = DispatchSemaphore(value: 0)
        agent.post { [self] in
            shutdownWaiter = done
            for call in Array(calls.values) { hangUp(call, cause: .shutdown, detail: "faxd is shutting down") }
            if calls.isEmpty { done.signal() }
        }
        if done.wait(timeout: .now() + 5) == .timedOut {
            logger.warning("shutdown: calls still open after 5 s; stopping anyway", metadata: ["calls": "\(activeCalls)"])
        }
        agent.shutdown()
        media.stop()
    }

    // MARK: SIP events (agent thread)

    public func sipAgent(_ agent: SIPAgent, didReceive event: SIPEvent) {
        logger.debug("sip event", metadata: ["event": "\(event.name)", "status": "\(event.status)",
                                             "state": "\(event.callState.map { "\($0)" } ?? "-")",
                                             "handle": "\(event.handle.map { "\($0)" } ?? "-")"])
        switch event.kind {
        case .incomingInvite:
            guard let handle = event.handle else { return }
            if let call = calls[handle] { reinvite(call, event) } else { newInboundCall(handle, event) }
        case .incomingAck:
            if let handle = event.handle, let call = calls[handle] { ack(call, event) }
        case .incomingBye:
            if let handle = event.handle, let call = calls[handle] {
                // The cause is decided when the channel reports: a BYE right after phase E is a
                // normal end of a fax, not a hangup in the middle of one.
                call.remoteHungUp = true
                call.phase = .ending
                if let voice = call.voice, !voice.endSignaled {
                    voice.endSignaled = true
                    signal(call, .farEndHangup)
                }
                stopMedia(call)
            }
        case .incomingCancel:
            if let handle = event.handle, let call = calls[handle] {
                call.end(.cancelled, "the caller cancelled before answer")
                call.sipStatus = 487
                call.sipReason = "Request Terminated"
                call.phase = .ending
                if let voice = call.voice, !voice.endSignaled {
                    voice.endSignaled = true
                    signal(call, .cancelledByRemote)
                }
                stopMedia(call)
            }
        case .incomingOptions:
            if let handle = event.handle { answerOptions(handle, event) }
        case .other where event.requestURI != nil, .incomingInfo, .incomingUpdate:
            guard let handle = event.handle else { return }
            // A request outside a call (INFO, an unknown method...) nua has answered itself
            // (200/481/501; methods missing from our Allow never get this far: 405); the
            // handle it made is ours to release, or it leaks.
            if calls[handle] == nil { agent.destroy(handle) }
        case .inviteResponse:
            if let handle = event.handle, let call = calls[handle] { inviteResponse(call, event) }
        case .stateChanged:
            if let handle = event.handle, let call = calls[handle], event.callState == .terminated {
                call.dialogTerminated = true
                if call.remoteHungUp && call.report == nil {
                    // The channel report decides the cause.
                } else if call.cause == nil {
                    call.end(.remoteHangup, "dialog terminated")
                }
                if let voice = call.voice, !voice.endSignaled {
                    // Ended by nothing we were told of: a 481, a transaction timeout, a session timer.
                    voice.endSignaled = true
                    signal(call, .failed(sipStatus: call.sipStatus >= 300 ? call.sipStatus : 0, reason: "the dialog ended (\(event.status) \(event.phrase))"))
                }
                stopMedia(call)
                finishIfDone(call)
            }
        default:
            break
        }
    }

    // MARK: Inbound

    private func newInboundCall(_ handle: SIPHandle, _ event: SIPEvent) {
        let uuid = UUID().uuidString.lowercased()
        let path = "\(configuration.receiveDirectory)/\(uuid).tif"
        let call = Call(uuid: uuid, direction: .inbound, handle: handle, job: .receive(path: path),
                        options: configuration.fax.options)
        call.sipCallID = event.callID
        call.remoteNumber = event.fromUser.flatMap(PhoneNumber.normalize) ?? event.fromUser
        call.remoteName = event.fromDisplay.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) }.flatMap { $0.isEmpty ? nil : $0 }
        track(call)
        let source = event.sourceAddress ?? "unknown"
        if let wait = inviteRateExceeded(source) {
            reject(call, 503, "more than \(configuration.sip.inviteBurstPerSource) INVITEs in a burst from \(source)", retryAfter: wait)
            return
        }

        guard let trunk = configuration.trunk(admitting: source) else {
            reject(call, 403, "source address \(source) is not allowed by any trunk")
            return
        }
        call.trunk = trunk
        call.t38Mode = trunk.t38
        // A draining or full node: the 503 sends a load balancer to another node (strangers got 403 above).
        if let refusal = newCallRefusal(others: calls.count - 1) {
            reject(call, 503, refusal.reason, retryAfter: refusal.retryAfter)
            return
        }
        if !configuration.sip.domains.isEmpty, let uri = event.requestURI {
            let host = SIPURI.host(uri)
            let ours = configuration.sip.domains + [configuration.sip.listenHost, configuration.sip.publicAddress].compactMap { $0 }
            guard ours.contains(where: { $0.lowercased() == host }) else {
                reject(call, 404, "\(host) is not a domain served here")
                return
            }
        }
        guard let user = event.requestUser, let did = PhoneNumber.normalize(user) else {
            reject(call, 404, "Request-URI user '\(event.requestUser ?? "")' is not a phone number")
            return
        }
        call.localNumber = did
        var record = trunk.record
        var voice = false
        if let router = router.withLock({ $0 })?.route {
            let offer = InboundOffer(uuid: uuid, did: did, fromNumber: call.remoteNumber, fromName: call.remoteName,
                                     trunk: trunk.name, file: path)
            switch router(offer) {
            case .reject(let status, let reason):
                reject(call, status, reason)
                return
            case .accept(let recordCall):
                record = record || recordCall
            case .voice:
                voice = true
                call.job = nil
                call.t38Mode = .off
                call.voice = VoiceLegState(options: voiceOptions)
            case .auto:
                // Answered as voice; the fax job waits for CNG. T.38 stays off in this first cut.
                voice = true
                call.t38Mode = .off
                call.voice = VoiceLegState(options: voiceOptions)
                call.voice?.autoFax = true
            }
        }
        if let limit = trunk.maxCalls, trunkLoad[trunk.name, default: 0] >= limit {
            reject(call, 503, "trunk \(trunk.name) is at its limit of \(limit) calls")
            return
        }
        trunkLoad[trunk.name, default: 0] += 1
        call.counted = true

        var agreement: SDPAgreement?
        if event.refusesSDP {
            reject(call, 406, "Accept allows no application/sdp answer")
            return
        }
        switch event.offer {
        case .none:
            break
        case .unsupported(let type):
            reject(call, 415, "a body of type \(type) is not an SDP offer", headers: "Accept: application/sdp")
            return
        case .sdp(let body):
            let offer: SessionDescription
            do {
                offer = try SessionDescription(parsing: body)
            } catch {
                reject(call, 400, "SDP: \(error.description)")
                return
            }
            do {
                agreement = try SDPNegotiator.negotiate(offer: offer, local: capabilities(call))
            } catch {
                reject(call, 488, error.reason)
                return
            }
        }
        do {
            call.socket = try media.openSocket()
        } catch {
            reject(call, 503, "cannot set up media: \(error)")
            return
        }
        if voice {
            logger.info("voice call offered", metadata: ["uuid": "\(uuid)", "from": "\(call.remoteNumber ?? "-")", "to": "\(did)",
                                                         "trunk": "\(trunk.name)", "source": "\(source)"])
            voiceLegs[uuid] = handle
            call.pendingPlan = agreement
            agent.respond(handle, status: 180)
            signal(call, .offered(InboundVoiceOffer(id: uuid, did: did, fromNumber: call.remoteNumber, fromName: call.remoteName,
                                                    trunk: trunk.name)))
            // An auto number answers at once: a calling fax machine does not wait for an application.
            if call.voice?.autoFax == true { answer(call, agreement: agreement) }
            return
        }
        do {
            let terminal = try AudioFaxTerminal(job: .receive(path: path), callingParty: false, options: call.options, progress: call.progress)
            if record {
                let recorder = CallRecorder(wrapping: terminal, localIsCaller: false)
                call.recorder = recorder
                call.terminal = recorder
            } else {
                call.terminal = terminal
            }
        } catch {
            reject(call, 503, "cannot set up media: \(error)")
            return
        }
        logger.info("call offered", metadata: ["uuid": "\(uuid)", "from": "\(call.remoteNumber ?? "-")", "to": "\(did)",
                                               "trunk": "\(trunk.name)", "source": "\(source)",
                                               "transport": "\(event.transport ?? "-")"])
        agent.respond(handle, status: 180)
        let delay = configuration.sip.answerDelayMilliseconds
        if delay == 0 {
            answer(call, agreement: agreement)
        } else {
            call.pendingPlan = agreement
            let handle = handle
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delay)) { [self] in
                agent.post { [self] in
                    if let call = calls[handle], call.phase == .setup { answer(call, agreement: call.pendingPlan) }
                }
            }
        }
    }

    /// The audio section faxd offers again on a dialog (offerless re-INVITE, hold, resume): the
    /// codec in use first, then the trunk's others, telephone-event 101, 20 ms. RFC 3264 section 8
    func audioSection(_ call: Call, port: UInt16, direction: SDPDirection) -> MediaDescription {
        let allowed = call.trunk?.codecs ?? [.pcmu, .pcma]
        let codecs = (call.codec.map { [$0] } ?? []) + allowed.filter { $0 != call.codec }
        return .audio(port: port, codecs: codecs.map { ($0, $0.staticPayloadType) }, telephoneEvent: 101, ptime: 20, direction: direction)
    }

    /// What this call may accept in an offer: its trunk's codecs, and T.38 unless it is off for the call.
    func capabilities(_ call: Call) -> SDPCapabilities {
        SDPCapabilities(codecs: call.trunk?.codecs ?? [.pcmu, .pcma], t38: localT38(call))
    }

    /// What we accept in the far end's answer to our own offer: we offered it, so T.38 counts as on.
    func answerCapabilities(_ call: Call) -> SDPCapabilities {
        SDPCapabilities(codecs: call.trunk?.codecs ?? [.pcmu, .pcma], t38: configuration.t38.localParameters)
    }

    func answer(_ call: Call, agreement: SDPAgreement?) {
        guard let socket = call.socket, let trunk = call.trunk else { return }
        let sdp: SessionDescription
        let origin = SDPOrigin(username: "faxd", sessionID: UInt64.random(in: 1...(1 << 40)), sessionVersion: 1, address: sdpAddress)
        if let agreement {
            sdp = agreement.answer(origin: origin, address: sdpAddress, port: socket.localPort)
        } else {
            // No offer in the INVITE: we offer in the 200 and the ACK carries the answer (RFC 3261 13.2.1).
            sdp = .audioOffer(origin: origin, address: sdpAddress, port: socket.localPort, codecs: trunk.codecs)
            call.awaitingAnswer = true
        }
        call.localSDP = sdp
        call.phase = .answered
        call.answeredAt = Date()
        call.sipStatus = 200
        call.sipReason = agent.respond(call.handle, status: 200, sdp: sdp.render())
        switch agreement?.stream {
        case .audio(let audio): if call.voice != nil { startVoiceMedia(call, plan: audio) } else { startMedia(call, plan: audio) }
        case .image(let image): startT38(call, plan: image, requestedBy: "offer")
        case nil: break
        }
    }

    private func ack(_ call: Call, _ event: SIPEvent) {
        if let voice = call.voice, call.direction == .inbound, call.phase == .answered, !voice.answerSignaled {
            voice.answerSignaled = true
            signal(call, .answered)
        }
        guard call.awaitingAnswer else { return }
        call.awaitingAnswer = false
        guard case .sdp(let body) = event.offer, let sdp = try? SessionDescription(parsing: body), let offered = call.localSDP else {
            hangUp(call, cause: .setupFailed, detail: "the ACK carried no usable SDP answer to our offer")
            return
        }
        // Our offer was the audio stream, or during T.38 the image stream as it stands.
        let stream: NegotiatedStream
        do {
            stream = try SDPNegotiator.readAnswer(sdp, to: offered, local: answerCapabilities(call))
        } catch {
            hangUp(call, cause: .setupFailed, detail: "the ACK carried no usable SDP answer to our offer: \(error.reason)")
            return
        }
        switch stream {
        case .image(let image):
            // The answer to our re-offered image stream: keep it, follow the address.
            let host = image.remoteHost, port = image.remotePort
            if let socket = call.socket { call.shard?.perform { try? socket.setRemote(host: host, port: port) } }
        case .audio(let audio):
            if call.channel != nil {
                updateMedia(call, plan: audio)
            } else if call.voice != nil {
                startVoiceMedia(call, plan: audio)
            } else {
                startMedia(call, plan: audio)
            }
        }
    }

    private func reinvite(_ call: Call, _ event: SIPEvent) {
        guard call.phase == .answered, !call.t38RequestPending, call.voice?.reinvitePending != true,
              var local = call.localSDP, let socket = call.socket else {
            // Our own re-INVITE is pending (glare) or the call is not up: RFC 3261 14.2.
            agent.respond(call.handle, status: 491)
            return
        }
        if case .unsupported(let type) = event.offer {
            agent.respond(call.handle, status: 415, headers: warning("a body of type \(type) is not an SDP offer") + "\r\nAccept: application/sdp")
            return
        }
        guard case .sdp(let body) = event.offer else {
            // Offerless re-INVITE: offer our current stream again; the ACK carries the answer.
            // During T.38 that is the image stream as it stands (RFC 3264 section 8: unchanged,
            // same version); in audio, our codecs again.
            if call.transport != "t38" {
                local.media = [audioSection(call, port: socket.localPort, direction: .sendrecv)]
                if local != call.localSDP { local.bumpVersion() }
            }
            call.localSDP = local
            call.awaitingAnswer = true
            agent.respond(call.handle, status: 200, sdp: local.render())
            return
        }
        let offer: SessionDescription
        do {
            offer = try SessionDescription(parsing: body)
        } catch {
            agent.respond(call.handle, status: 400, headers: warning("SDP: \(error.description)"))
            return
        }
        let agreement: SDPAgreement
        do {
            agreement = try SDPNegotiator.negotiate(offer: offer, local: capabilities(call))
        } catch {
            agent.respond(call.handle, status: 488, headers: warning(error.reason))
            logger.info("re-INVITE refused", metadata: ["uuid": "\(call.uuid)", "reason": "\(error.reason)"])
            return
        }
        // RFC 3264 section 8: the version rises only when the body changes (a refresh keeps it).
        var answer = agreement.answer(origin: local.origin, address: sdpAddress, port: socket.localPort)
        if answer != local { answer.origin.bumpVersion() }
        // Answer at once: carriers give up on slow T.38 answers (FreeSWITCH 2 s, Asterisk 5 s).
        call.localSDP = answer
        agent.respond(call.handle, status: 200, sdp: answer.render())
        switch agreement.stream {
        case .image(let image):
            if call.transport == "t38" {
                // A session refresh or re-offer of the same image stream: keep it, follow the address.
                let host = image.remoteHost, port = image.remotePort
                call.shard?.perform { try? socket.setRemote(host: host, port: port) }
            } else {
                logger.info("switching to T.38", metadata: ["uuid": "\(call.uuid)", "requested_by": "remote"])
                startT38(call, plan: image, requestedBy: "remote")
            }
        case .audio(let audio):
            logger.info("re-INVITE answered", metadata: ["uuid": "\(call.uuid)", "codec": "\(audio.codec.encodingName)",
                                                         "direction": "\(audio.direction.rawValue)"])
            // Back to audio after a T.38 fax: the SDP is answered; the T.38 channel finishes its call.
            if call.transport == "g711" && call.channel != nil { updateMedia(call, plan: audio) }
        }
    }

    // MARK: Outbound

    private func placeCall(_ fax: OutboundFax, completion: @escaping @Sendable (FaxOutcome) -> Void) {
        let target: OutboundTarget
        switch outboundTarget(fax.destination, trunkName: fax.trunk) {
        case .success(let found): target = found
        case .failure(let problem):
            completion(setupFailure(fax, problem.reason))
            return
        }
        let trunk = target.trunk, requestURI = target.requestURI, route = target.route
        var terminal: any FaxAudioEndpoint
        let socket: UDPSocket
        let progress = FaxProgress(onPages: fax.onPagesConfirmed)
        do {
            if let samples = fax.replay {
                terminal = ReplayEndpoint(samples: samples)
            } else {
                terminal = try AudioFaxTerminal(job: .send(path: fax.document), callingParty: true, options: fax.options, progress: progress)
            }
            socket = try media.openSocket()
        } catch let error as FaxError {
            // A document faxd cannot send is a file error (T.30 code FILEERROR, final), not a
            // dropped call; running out of descriptors or memory is this machine's (retried).
            completion(setupFailure(fax, error.reason, t30: error.isTemporary ? .callDropped : .fileError))
            return
        } catch {
            completion(setupFailure(fax, "\(error)"))
            return
        }
        let callerID = fax.callerID ?? trunk?.callerID ?? "faxd"
        let from = fromHeader(callerID)
        let origin = SDPOrigin(username: "faxd", sessionID: UInt64.random(in: 1...(1 << 40)), sessionVersion: 1, address: sdpAddress)
        var recorder: CallRecorder?
        if fax.record || trunk?.record == true {
            recorder = CallRecorder(wrapping: terminal, localIsCaller: true)
            terminal = recorder!
        }
        let requested: T38Mode = switch fax.transport {
        case .g711: .off
        case .auto, .t38: .request
        case nil: trunk?.t38 ?? .accept
        }
        let t38Mode: T38Mode = fax.replay != nil ? .off : requested
        let offer: SessionDescription = fax.transport == .t38
            ? .imageOffer(origin: origin, address: sdpAddress, port: socket.localPort, t38: configuration.t38.localParameters)
            : .audioOffer(origin: origin, address: sdpAddress, port: socket.localPort, codecs: trunk?.codecs ?? [.pcmu, .pcma])
        guard let handle = agent.invite(requestURI: requestURI, from: from, to: nil, route: route, sdp: offer.render()) else {
            completion(setupFailure(fax, "sofia-sip could not create the INVITE for \(requestURI)"))
            return
        }
        let call = Call(uuid: fax.uuid, direction: .outbound, handle: handle, job: .send(path: fax.document), options: fax.options,
                        progress: progress)
        call.trunk = trunk
        call.t38Mode = t38Mode
        call.terminal = terminal
        call.recorder = recorder
        call.socket = socket
        call.localSDP = offer
        call.awaitingAnswer = true
        call.localNumber = PhoneNumber.normalize(callerID)
        call.remoteNumber = SIPURI.number(requestURI)
        call.onOutcome = completion
        call.onAnswered = fax.onAnswered
        track(call)
        if let trunk {
            trunkLoad[trunk.name, default: 0] += 1
            call.counted = true
        }
        logger.info("dialing", metadata: ["uuid": "\(call.uuid)", "to": "\(requestURI)", "trunk": "\(trunk?.name ?? "-")"])
        let timeout = configuration.sip.noAnswerTimeoutSeconds
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(timeout)) { [self] in
            agent.post { [self] in
                guard let call = calls[handle], call.phase == .setup else { return }
                call.end(.sipFailure, "no answer within \(timeout) s")
                call.phase = .ending
                agent.cancel(handle)
                stopMedia(call)
            }
        }
    }

    /// Where an outbound call goes: the Request-URI, the Route through the trunk's proxy, the trunk.
    struct OutboundTarget {
        var requestURI: String
        var route: String?
        var trunk: Trunk?
    }

    struct TargetProblem: Error { var reason: String }

    /// Resolves a destination (a SIP URI, or a number to call through `trunkName`) for any outbound call.
    func outboundTarget(_ destination: String, trunkName: String?) -> Result<OutboundTarget, TargetProblem> {
        let trunk = trunkName.flatMap { configuration.trunk(named: $0) }
        var requestURI = destination
        if !destination.hasPrefix("sip:") {
            guard let trunk, let number = PhoneNumber.normalize(destination) else {
                return .failure(TargetProblem(reason: trunkName == nil
                    ? "destination '\(destination)' needs a trunk, or give a SIP URI such as sip:NUMBER@HOST:PORT"
                    : "trunk '\(trunkName!)' is not configured, or \(PhoneNumber.problem(with: destination))"))
            }
            guard let host = trunk.domain ?? trunk.outboundProxy.map(SIPURI.hostPort) else {
                return .failure(TargetProblem(reason: "trunk \(trunk.name) has neither domain nor outbound_proxy"))
            }
            requestURI = "sip:\(number)@\(host)"
        }
        return .success(OutboundTarget(requestURI: requestURI, route: trunk?.outboundProxy.map { "<\($0);lr>" }, trunk: trunk))
    }

    /// Our From header for `callerID`, at the address we advertise.
    func fromHeader(_ callerID: String) -> String {
        let hostPart = sdpAddress.contains(":") ? "[\(sdpAddress)]" : sdpAddress
        return "<sip:\(callerID)@\(hostPart)>"
    }

    private func inviteResponse(_ call: Call, _ event: SIPEvent) {
        if call.sipCallID == nil { call.sipCallID = event.callID }
        if call.phase != .setup {
            if call.t38RequestPending { t38RequestAnswered(call, event) }
            if call.voice?.reinvitePending == true { voiceReinviteAnswered(call, event) }
            return
        }
        switch event.status {
        case 100..<200:
            if call.voice != nil && event.status >= 180 { signal(call, .ringing(sipStatus: event.status)) }
            return
        case 200..<300:
            call.sipStatus = event.status
            call.sipReason = event.phrase
            guard call.phase == .setup else { return }  // a retransmitted 200
            call.phase = .answered
            call.answeredAt = Date()
            call.awaitingAnswer = false
            call.onAnswered?()
            if call.voice != nil {
                voiceAnswered(call, event)
                return
            }
            guard case .sdp(let body) = event.offer, let answer = try? SessionDescription(parsing: body),
                  let offered = call.localSDP else {
                hangUp(call, cause: .setupFailed, detail: "the 200 OK carried no SDP answer")
                return
            }
            do {
                switch try SDPNegotiator.readAnswer(answer, to: offered, local: answerCapabilities(call)) {
                case .image(let image): startT38(call, plan: image, requestedBy: "offer")
                case .audio(let audio): startMedia(call, plan: audio)
                }
            } catch {
                hangUp(call, cause: .setupFailed, detail: "unusable SDP answer: \(error.reason)")
            }
        case 401, 407:
            if !call.authAttempted, let trunk = call.trunk, let user = trunk.username, let password = trunk.password,
               let realm = event.authRealm {
                call.authAttempted = true
                agent.authenticate(call.handle, scheme: event.authScheme ?? "Digest", realm: realm, username: user, password: password)
                return
            }
            fallthrough
        default:
            call.sipStatus = event.status
            call.sipReason = event.phrase
            call.end(.sipFailure, "INVITE answered \(event.status) \(event.phrase)")
            call.phase = .ending
            if let voice = call.voice, !voice.endSignaled {
                voice.endSignaled = true
                signal(call, .failed(sipStatus: event.status, reason: event.phrase))
            }
            stopMedia(call)
        }
    }

    private func setupFailure(_ fax: OutboundFax, _ reason: String, t30: T30Result = .callDropped) -> FaxOutcome {
        let call = Call(uuid: fax.uuid, direction: .outbound, handle: SIPHandle.none, job: .send(path: fax.document), options: fax.options)
        call.remoteNumber = SIPURI.number(fax.destination)
        call.end(.setupFailed, reason)
        call.report = ChannelReport(reason: .stopped, faxCompleted: false, fax: .notStarted(t30), tones: FaxTones(), media: MediaCounters())
        let outcome = call.outcome()
        logOutcome(outcome)
        return outcome
    }

    // MARK: Media

    private func startMedia(_ call: Call, plan: NegotiatedAudio) {
        guard let socket = call.socket, let terminal = call.terminal else { return }
        do {
            try socket.setRemote(host: plan.remoteHost, port: plan.remotePort)
        } catch {
            hangUp(call, cause: .setupFailed, detail: "remote media address \(plan.remoteHost):\(plan.remotePort): \(error)")
            return
        }
        call.codec = plan.codec
        call.payloadType = plan.payloadType
        let handle = call.handle
        let settings = configuration.media
        let channel = AudioChannel(transport: socket, law: plan.law, payloadType: plan.payloadType, terminal: terminal,
                                   jitterMilliseconds: settings.jitterMilliseconds,
                                   silenceTimeoutSeconds: settings.silenceTimeoutSeconds,
                                   maxCallSeconds: settings.maxCallSeconds, ssrc: UInt32.random(in: 1...UInt32.max)) { [agent] report in
            agent.post { [self] in channelFinished(handle, report) }
        }
        call.channel = channel
        call.terminal = nil  // the channel owns it now, on its shard
        let shard = media.leastLoadedShard()
        call.shard = shard
        shard.add(channel)
        if call.t38Mode == .request { scheduleT38Request(call) }
    }

    func updateMedia(_ call: Call, plan: NegotiatedAudio) {
        guard let shard = call.shard, let socket = call.socket else { return }
        call.codec = plan.codec
        call.payloadType = plan.payloadType
        let law = plan.law, pt = plan.payloadType, event = plan.telephoneEvent, host = plan.remoteHost, port = plan.remotePort
        let audio = call.audioChannel, voice = call.voice?.channel
        shard.perform {
            audio?.changeCodec(law: law, payloadType: pt)
            voice?.changeCodec(law: law, payloadType: pt, telephoneEventPayloadType: event)
            if !(host == "0.0.0.0" || port == 0) { try? socket.setRemote(host: host, port: port) }
        }
    }

    func stopMedia(_ call: Call) {
        if let channel = call.channel, let shard = call.shard {
            shard.perform { channel.stop() }
        } else if let voice = call.voice {
            if !voice.mediaFinished {
                voice.mediaFinished = true
                finishIfDone(call)
            }
        } else if call.report == nil {
            // Never had media: the terminal (if any) ends here; outcome says what happened.
            let fax = call.terminal?.hangUp() ?? .notStarted(.callDropped)
            call.terminal = nil
            call.report = ChannelReport(reason: .stopped, faxCompleted: false, fax: fax, tones: FaxTones(), media: MediaCounters())
            finishIfDone(call)
        }
    }

    func channelFinished(_ handle: SIPHandle, _ report: ChannelReport) {
        guard let call = calls[handle] else { return }
        logger.debug("media finished", metadata: ["uuid": "\(call.uuid)", "reason": "\(report.reason)",
                                                  "t30": "\(report.fax.result)", "pages": "\(report.fax.pagesTransferred)"])
        call.report = report
        switch report.reason {
        case .faxComplete:
            call.end(.faxComplete, report.fax.result.isSuccess ? nil : "T.30: \(report.fax.result.name)")
        case .mediaTimeout(let seconds, let phase):
            let media = call.channel is T38Channel ? "T.38 (UDPTL)" : "RTP"
            call.end(.mediaTimeout, "no \(media) received for \(seconds) s, in \(phase)")
        case .maxDuration(let seconds):
            call.end(.maxDuration, "call exceeded \(seconds) s")
        case .stopped:
            if call.remoteHungUp {
                // spandsp reports OK at termination when every page was already confirmed (the
                // sender is still flushing its DCN when the receiver's BYE arrives).
                if report.faxCompleted || report.fax.result.isSuccess {
                    call.end(.faxComplete, report.fax.result.isSuccess ? nil : "T.30: \(report.fax.result.name)")
                } else {
                    call.end(.remoteHangup, "the far end hung up before T.30 finished")
                }
            }
        }
        if !call.dialogTerminated && !call.byeSent {
            call.byeSent = true
            call.phase = .ending
            agent.bye(handle)
        }
        finishIfDone(call)
    }

    /// Ends a call from our side in whatever phase it is.
    func hangUp(_ call: Call, cause: HangupCause, detail: String) {
        call.end(cause, detail)
        switch (call.direction, call.phase) {
        case (.inbound, .setup):
            reject(call, 503, detail)
        case (.outbound, .setup):
            call.phase = .ending
            agent.cancel(call.handle)
            stopMedia(call)
        case (_, .answered):
            call.phase = .ending
            if !call.byeSent {
                call.byeSent = true
                agent.bye(call.handle)
            }
            stopMedia(call)
        case (_, .ending):
            stopMedia(call)
        }
    }

    func reject(_ call: Call, _ status: Int, _ reason: String, retryAfter: Int? = nil, headers: String? = nil) {
        call.sipStatus = status
        call.end(call.cause ?? .rejected, reason)
        call.phase = .ending
        call.sipReason = agent.respond(call.handle, status: status,
                                       headers: warning(reason) + (retryAfter.map { "\r\nRetry-After: \($0)" } ?? "")
                                           + (headers.map { "\r\n" + $0 } ?? ""))
        call.refused = true
        let admitted = refusalLog.admit()
        call.logged = admitted.write
        if admitted.write {
            var metadata: Logger.Metadata = ["uuid": "\(call.uuid)", "status": "\(status)", "reason": "\(reason)"]
            if admitted.suppressedBefore > 0 { metadata["not_logged_before"] = "\(admitted.suppressedBefore) refused calls" }
            logger.notice("call rejected", metadata: metadata)
        }
        stopMedia(call)
    }

    func warning(_ text: String) -> String { SIPWarning.header(text) }

    /// Takes a token from `source`'s INVITE bucket; nil when it may go ahead, else the seconds to wait.
    private func inviteRateExceeded(_ source: String) -> Int? {
        let rate = configuration.sip.inviteRatePerSource
        guard rate > 0 else { return nil }
        let now = DispatchTime.now().uptimeNanoseconds
        if inviteBuckets.count > 10_000 {
            // Forget sources that have been quiet long enough to have a full bucket again.
            inviteBuckets = inviteBuckets.filter { !$0.value.isFull(nowNanos: now) }
        }
        var bucket = inviteBuckets[source] ?? TokenBucket(perSecond: rate, burst: configuration.sip.inviteBurstPerSource, nowNanos: now)
        defer { inviteBuckets[source] = bucket }
        return bucket.take(nowNanos: now)
    }

    // MARK: Bookkeeping

    func track(_ call: Call) {
        calls[call.handle] = call
        callCount.store(calls.count, ordering: .relaxed)
    }

    func finishIfDone(_ call: Call) {
        guard call.dialogTerminated, call.voice?.mediaFinished ?? (call.report != nil), calls[call.handle] === call else { return }
        calls[call.handle] = nil
        callCount.store(calls.count, ordering: .relaxed)
        if call.counted, let trunk = call.trunk { trunkLoad[trunk.name, default: 1] -= 1 }
        call.socket?.close()
        agent.destroy(call.handle)
        if let voice = call.voice {
            voiceLegs[call.uuid] = nil
            signal(call, .ended(VoiceLegSummary(sipCallID: call.sipCallID, media: voice.report, sipStatus: call.sipStatus)))
            if calls.isEmpty { shutdownWaiter?.signal() }
            return
        }
        var outcome = call.outcome()
        if let recorder = call.recorder {
            let directory = call.direction == .inbound ? configuration.receiveDirectory : configuration.archiveDirectory
            let path = "\(directory)/\(call.uuid).wav"
            outcome.recording = path
            call.recorder = nil
            // A second of call is 32 KB of WAV: joined and written off the SIP thread (the shard
            // no longer touches the recorder once the channel has reported).
            DispatchQueue.global(qos: .utility).async { [logger] in
                do {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                    try recorder.recording.write(path)
                } catch {
                    logger.error("cannot write a call recording", metadata: ["file": "\(path)", "error": "\(error)"])
                }
            }
        }
        // A refused call's outcome line goes with its "call rejected" line: both or neither.
        if !call.refused || call.logged { logOutcome(outcome) }
        call.onOutcome?(outcome)
        for handler in outcomeHandlers.withLock({ $0 }) { handler(outcome) }
        if call.becameFax {
            signal(call, .faxEnded(remoteHungUp: call.remoteHungUp))
            signal(call, .ended(VoiceLegSummary(sipCallID: call.sipCallID, media: nil, sipStatus: call.sipStatus)))
        }
        if calls.isEmpty { shutdownWaiter?.signal() }
    }

    private func logOutcome(_ outcome: FaxOutcome) {
        logger.info("call ended", metadata: ["outcome": "\(outcome.jsonLine)"])
    }
}
