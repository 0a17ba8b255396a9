import Dispatch
import Engine
import Foundation
import Logging
import MediaStreams
import SIP
import Store
import Voice

/// A dial request (`POST /v2/calls`, the softphone's `POST /api/telnyx/dial`), before checking.
/// Telnyx Call Control v2: Dial
public struct VoiceDialRequest: Sendable, Equatable {
    /// The number to call (E.164, with or without '+').
    public var to: String
    /// Caller ID: the account's own number (its number when absent).
    public var from: String?
    /// The trunk to dial through (faxd's trunk name); absent: `voice.trunk`.
    public var connectionID: String?
    /// Seconds to wait for an answer (default 30).
    public var timeoutSeconds: Int?
    public var clientState: String?
    /// Kept on the call record (webhooks go to the account's endpoints).
    public var webhookURL: String?
    /// Another call of the account this one will be bridged with: same session, same media shard.
    public var linkTo: String?

    public init(to: String, from: String? = nil, connectionID: String? = nil, timeoutSeconds: Int? = nil,
                clientState: String? = nil, webhookURL: String? = nil, linkTo: String? = nil) {
        self.to = to
        self.from = from
        self.connectionID = connectionID
        self.timeoutSeconds = timeoutSeconds
        self.clientState = clientState
        self.webhookURL = webhookURL
        self.linkTo = linkTo
    }
}

/// A dial or command refused before anything happened: the HTTP status, a stable code and the reason.
public struct VoiceRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var reason: String
    public var description: String { reason }

    public init(_ status: Int, _ code: String, _ reason: String) {
        self.status = status
        self.code = code
        self.reason = reason
    }
}

/// Voice calls glued together: the engine's legs (`CallOrchestrator.dial`/`voice`/`onVoice`),
/// each call's `VoiceCallState` and records (`VoiceLedger`), timers, recordings and prompts.
/// Signals from the engine are handled in order on one serial queue (never a shard or the SIP
/// thread: the ledger writes to the store); API requests run on the caller's thread and hand
/// their SIP and media work to the engine.
public final class VoiceService: @unchecked Sendable {
    public let ledger: VoiceLedger
    let store: FaxStore
    let configuration: FaxdConfiguration
    let orchestrator: CallOrchestrator
    let directory: AccountDirectory
    let logger: Logger
    let queue = DispatchQueue(label: "faxd-voice")
    let metrics: ServiceMetrics

    // Confined to `queue`.
    private var timers: [String: DispatchWorkItem] = [:]
    private var dialTimeouts: [String: Int] = [:]
    private var legsEnded: Set<String> = []
    private var recordingsPending: [String: Int] = [:]
    private var recordingStarted: [String: Date] = [:]
    private var recordingCounts: [String: Int] = [:]
    private var inbound: Set<String> = []
    /// Playback ids to the name given to playback_start (hold music has none).
    private var playbacks: [String: [Int: String]] = [:]
    private var nextPlaybackID = 1
    /// Transfer legs being dialled, to the call each will be bridged with when it answers.
    private var transfers: [String: String] = [:]
    private let holdMusic: VoicePrompt
    /// Media streams running, by call.
    let streams = VoiceStreams()
    /// Inbound calls to a number with a stream, answered and waiting to stream (queue).
    private var numberStreams: [String: StreamingStart] = [:]
    /// An `auto` number's call became a fax: the fax record starts here (set before `start`).
    var onFaxDetected: (@Sendable (InboundOffer, Int64) -> Void)?

    init(store: FaxStore, configuration: FaxdConfiguration, orchestrator: CallOrchestrator, directory: AccountDirectory,
         metrics: ServiceMetrics, logger: Logger, onQueued: @escaping @Sendable () -> Void) {
        self.store = store
        self.configuration = configuration
        self.orchestrator = orchestrator
        self.directory = directory
        self.metrics = metrics
        self.logger = logger
        ledger = VoiceLedger(store: store, onQueued: onQueued)
        holdMusic = Self.loadHoldMusic(configuration.voice.holdMusic, logger: logger)
    }

    /// Takes the engine's voice signals. Before the engine starts.
    func start() {
        orchestrator.onVoice { [weak self] id, signal in
            guard let self else { return }
            queue.async { self.handle(id, signal) }
        }
    }

    /// Waits for the signals already queued to be handled.
    func drain() { queue.sync {} }

    /// Voice calls a crash or stop left live in the store are over: each gets its `call.hangup`
    /// (cause unspecified, source unknown) so no application waits for it forever.
    /// Calls a restart (or a node's death) cut off: this node's, those of nodes not in
    /// `liveNodes`, and those recorded before nodes existed. Another live node's calls are its own.
    /// Without `own` (a sweep while this node runs) only dead nodes' calls are ended.
    func recover(liveNodes: Set<String> = [], own: Bool = true) {
        guard let live = try? store.read({ try $0.activeVoiceCalls() }) else { return }
        let ownership = NodeOwnership(me: configuration.nodeID, alive: liveNodes)
        for call in live where ownership.isCutOff(call.nodeID, own: own) {
            ledger.track(call)
            _ = try? ledger.apply(.failed(sipStatus: 500, reason: "faxd restarted"), to: call.callControlID)
            ledger.forget(call.callControlID)
            logger.notice("voice call interrupted by a restart", metadata: ["call": "\(call.callControlID)"])
        }
    }

    // MARK: Dial

    /// Checks and places a call for `accountID`; returns its record (state dialing). `call.initiated`
    /// follows when the INVITE leaves. Telnyx Call Control v2: Dial
    public func dial(accountID: Int64, _ request: VoiceDialRequest, now: Date = Date()) throws(VoiceRequestError) -> VoiceCall {
        func invalid(_ reason: String) -> VoiceRequestError { VoiceRequestError(422, "invalid_argument", reason) }
        if orchestrator.isDraining {
            throw VoiceRequestError(503, "draining", "this faxd node is draining and places no new calls (faxd drain --off ends the drain)")
        }
        let account: FaxAccount
        do {
            guard let found = try store.read({ try $0.account(id: accountID) }) else { throw VoiceRequestError(404, "not_found", "account \(accountID)") }
            account = found
        } catch let error as VoiceRequestError { throw error } catch { throw VoiceRequestError(503, "storage", "cannot read the account: \(error)") }
        guard account.status == .active else { throw VoiceRequestError(403, "account_disabled", "account \(account.faxNumber) is disabled") }
        guard let to = PhoneNumber.normalize(request.to), to.count >= 3 else { throw invalid("to: \(PhoneNumber.problem(with: request.to))") }
        if let refusal = configuration.processing.destinations.refusal(number: to, account: account.faxNumber) {
            throw VoiceRequestError(403, "destination_refused", "to: \(refusal)")
        }
        var from = account.faxNumber
        if let given = request.from {
            guard let number = PhoneNumber.normalize(given), number == account.faxNumber else {
                throw invalid("from: '\(given.prefix(40))' is not this account's number (\(account.faxNumber)); calls go out with the account's own caller ID")
            }
            from = number
        }
        let trunk: String
        if let name = request.connectionID {
            guard configuration.trunk(named: name) != nil else { throw invalid("connection_id: no trunk is named '\(name.prefix(60))'") }
            trunk = name
        } else if let name = configuration.voice.trunk ?? FaxSubmission.sendTrunk(configuration) {
            trunk = name
        } else {
            throw VoiceRequestError(503, "no_trunk", "no trunk can place calls: set voice.trunk, or give a trunk a domain or outbound_proxy")
        }
        let timeout = request.timeoutSeconds ?? 30
        guard (1...configuration.voice.maxDialTimeoutSeconds).contains(timeout) else {
            throw invalid("timeout_secs: \(timeout) is out of range 1...\(configuration.voice.maxDialTimeoutSeconds)")
        }
        var clientState: String?
        if let state = request.clientState {
            do { clientState = try ClientState.validate(state) } catch { throw invalid(error.reason) }
        }
        if let url = request.webhookURL, !(url.hasPrefix("https://") || url.hasPrefix("http://")) || url.count > 2048 {
            throw invalid("webhook_url: '\(url.prefix(60))' is not an http(s) URL")
        }
        var session: String?
        if let other = request.linkTo {
            guard let linked = try? store.read({ try $0.voiceCall(callControlID: other, accountID: accountID) }), linked.state.isLive else {
                throw invalid("link_to: call \(other.prefix(80)) is not a live call of this account")
            }
            session = linked.callSessionID
        }
        let ids = VoiceCallIDs.make(session: session)
        var call = VoiceCall(callControlID: ids.callControlID, callLegID: ids.callLegID, callSessionID: ids.callSessionID,
                             accountID: accountID, direction: .outbound, fromNumber: from, toNumber: to, clientState: clientState,
                             webhookURL: request.webhookURL, connectionID: request.connectionID, trunk: trunk, now: now)
        call.nodeID = configuration.nodeID
        do {
            call = try store.write { try $0.insert(call) }
        } catch {
            throw VoiceRequestError(503, "storage", "cannot record the call: \(error)")
        }
        ledger.track(call)
        queue.sync { dialTimeouts[call.callControlID] = timeout }
        metrics.voiceCallStarted(outbound: true)
        orchestrator.dial(OutboundVoiceCall(id: call.callControlID, destination: to, trunk: trunk, callerID: from,
                                            options: orchestrator.voiceOptions, linkTo: request.linkTo))
        return call
    }

    // MARK: Commands

    /// Carries out an application command on an account's call: the `command_id` is claimed
    /// first (a repeat within 5 minutes gets the first answer and does nothing), the command is
    /// checked against the call's state (a refusal changes nothing), then done. Returns the HTTP
    /// status and JSON body. Telnyx Call Control v2: call commands, command_id
    public func command(accountID: Int64, callControlID id: String, name: String, body: [String: Any]) async -> (Int, [String: Any]) {
        let request: VoiceCommandRequest
        do {
            request = try VoiceCommandRequest(name: name, body: body)
        } catch {
            return (error.httpStatus, Self.errorJSON(error.code.rawValue, error.reason))
        }
        guard let call = try? store.read({ try $0.voiceCall(callControlID: id, accountID: accountID) }) else {
            return (404, Self.errorJSON("not_found", "call \(id.prefix(80)) was not found"))
        }
        if let commandID = request.commandID {
            let claim: VoiceCommandClaim
            do {
                claim = try store.write { try $0.claimVoiceCommand(accountID: accountID, callControlID: id, commandID: commandID, command: name) }
            } catch {
                return (503, Self.errorJSON("storage", "cannot record command_id: \(error)"))
            }
            switch claim {
            case .claimed: break
            case .answered(let stored):
                let json = (try? JSONSerialization.jsonObject(with: Data(stored.responseJSON.utf8))) as? [String: Any] ?? [:]
                return (stored.status, json)
            case .running:
                return (409, Self.errorJSON("command_in_progress", "command_id \(commandID.prefix(80)) is still being carried out; retry in a moment"))
            case .mismatch(let stored):
                return (422, Self.errorJSON("command_id_reused", "command_id \(commandID.prefix(80)) was used for \(stored.command) on this call, not \(name)"))
            }
        }
        let (status, json) = await run(request, on: call)
        if let commandID = request.commandID {
            let text = OutboxMessages.json(json)
            _ = try? store.write { try $0.storeVoiceCommandResponse(accountID: accountID, callControlID: id, commandID: commandID, status: status, responseJSON: text) }
        }
        return (status, json)
    }

    private func run(_ request: VoiceCommandRequest, on call: VoiceCall) async -> (Int, [String: Any]) {
        let id = call.callControlID
        // What must exist before the state changes: a prompt to play, a call to bridge with.
        var prompt: VoicePrompt?
        switch request.command {
        case .playbackStart(let source):
            do { prompt = try loadPrompt(source) } catch { return (error.httpStatus, Self.errorJSON(error.code.rawValue, error.reason)) }
        case .bridge(let other):
            guard other != id, let peer = try? store.read({ try $0.voiceCall(callControlID: other, accountID: call.accountID) }), peer.state == .active else {
                return (422, Self.errorJSON(VoiceCommandError.Code.bridgeFailed.rawValue,
                                            "bridge: call_control_id \(other.prefix(80)) is not another answered call of this account"))
            }
        case .streamingStart:
            if streams.contains(id) {
                return (422, Self.errorJSON(VoiceCommandError.Code.alreadyStreaming.rawValue, "streaming_start: the call is already streaming; send streaming_stop first"))
            }
        case .streamingStop:
            if !streams.contains(id) {
                return (422, Self.errorJSON(VoiceCommandError.Code.notStreaming.rawValue, "streaming_stop: the call is not streaming"))
            }
        case .transfer(let to):
            // The new leg is checked like a dial before the call's state changes.
            guard let number = PhoneNumber.normalize(to), number.count >= 3 else {
                return (422, Self.errorJSON(VoiceCommandError.Code.invalidArgument.rawValue, "transfer: to: \(PhoneNumber.problem(with: to))"))
            }
            _ = number
        default:
            break
        }
        let actions: [VoiceCallState.Action]
        do {
            actions = try ledger.command(request.command, clientState: request.clientState, to: id)
        } catch let error as VoiceCommandError {
            return (error.httpStatus, Self.errorJSON(error.code.rawValue, error.reason))
        } catch {
            return (503, Self.errorJSON("storage", "cannot record the command: \(error)"))
        }
        var problem: String?
        for action in actions {
            if case .perform(.transfer(let to)) = action {
                // A new leg to `to` in the same session and on this call's shard; bridged when it answers.
                do {
                    let leg = try dial(accountID: call.accountID, VoiceDialRequest(to: to, connectionID: request.connectionID ?? call.connectionID,
                                                                                   clientState: request.clientState, linkTo: id))
                    queue.sync { transfers[leg.callControlID] = id }
                } catch {
                    problem = error.reason
                }
                continue
            }
            if let failed = await perform(action, id: id, prompt: prompt, loop: request.loop, call: call) { problem = failed }
        }
        if let problem {
            logger.notice("voice command not carried out", metadata: ["call": "\(id)", "command": "\(request.command.name)", "reason": "\(problem)"])
            return (422, Self.errorJSON("command_failed", "\(request.command.name): \(problem)"))
        }
        return (200, VoiceCallView.commandResult)
    }

    /// One action of the state machine: a SIP message or media command to the engine (awaited),
    /// or a timer. Returns why it failed, if it did.
    private func perform(_ action: VoiceCallState.Action, id: String, prompt: VoicePrompt? = nil, loop: Bool = false,
                         call: VoiceCall? = nil) async -> String? {
        let leg: VoiceLegCommand
        switch action {
        case .emit, .changeState: return nil
        case .armNoAnswerTimer:
            queue.async { self.arm(id, seconds: self.dialTimeouts[id] ?? 30) }
            return nil
        case .disarmNoAnswerTimer:
            queue.async { self.disarm(id) }
            return nil
        case .sendAnswer: leg = .answer
        case .sendReject(let status): leg = .reject(sipStatus: status)
        case .sendCancel: leg = .cancel
        case .sendBye: leg = .bye
        case .perform(let command):
            switch command {
            case .sendDTMF(let digits, _): leg = .sendDTMF(digits.text)
            case .playbackStart(let source):
                guard let prompt else { return "the prompt \(source) was not loaded" }
                let playbackID = queue.sync { () -> Int in
                    defer { nextPlaybackID += 1 }
                    playbacks[id, default: [:]][nextPlaybackID] = source
                    return nextPlaybackID
                }
                leg = .play(prompt, loop: loop, id: playbackID)
            case .playbackStop: leg = .stopPlayback
            case .recordStart:
                let path = recordingPath(id, legID: call?.callLegID)
                queue.sync {
                    recordingsPending[id, default: 0] += 1
                    recordingStarted[id] = Date()
                }
                leg = .startRecording(path: path)
            case .recordStop: leg = .stopRecording
            case .bridge(let other): leg = .bridge(otherID: other)
            case .hold, .unhold:
                leg = .hold(command == .hold, music: holdMusic)
                _ = try? store.write { try $0.setVoiceCallMedia(callControlID: id, held: command == .hold) }
            case .mute, .unmute:
                leg = .mute(command == .mute)
                _ = try? store.write { try $0.setVoiceCallMedia(callControlID: id, muted: command == .mute) }
            case .streamingStart(let start):
                guard let call = call ?? (try? store.read({ try $0.voiceCall(callControlID: id) })) else { return "the call record is missing" }
                return await startStream(start, call: call)
            case .streamingStop:
                return await stopStream(id, reason: "streaming_stop")
            case .answer, .reject, .hangup, .transfer:
                return nil  // answered by the SIP actions above, or refused before the ledger
            }
        }
        let problem = await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            orchestrator.voice(id, leg) { continuation.resume(returning: $0) }
        }
        if problem == nil, case .perform(.bridge(let other)) = action {
            _ = try? ledger.report(.bridged, to: id)
            _ = try? ledger.report(.bridged, to: other)
        }
        if problem != nil, case .perform(.recordStart) = action {
            queue.async { self.recordingFinished(id) }
        }
        return problem
    }

    /// Performs actions that came from a signal (no caller waits for them).
    func performDetached(_ actions: [VoiceCallState.Action], id: String) {
        guard !actions.isEmpty else { return }
        Task { for action in actions { _ = await perform(action, id: id) } }
    }

    // MARK: Signals (queue)

    private func handle(_ id: String, _ signal: VoiceLegSignal) {
        do {
            switch signal {
            case .offered(let offer):
                try offered(offer)
            case .dialed:
                performDetached(try ledger.apply(.dialed, to: id), id: id)
            case .ringing(let status):
                performDetached(try ledger.apply(.ringing(sipStatus: status), to: id), id: id)
            case .answered:
                if inbound.contains(id) { disarm(id) }
                performDetached(try ledger.apply(.answered, to: id), id: id)
                if let start = numberStreams.removeValue(forKey: id) { startNumberStream(id, start) }
                if let original = transfers.removeValue(forKey: id) {
                    // The transfer's new leg answered: join it with the call that asked for it.
                    performDetached([.perform(.bridge(otherCallControlID: original))], id: id)
                }
            case .farEndHangup:
                performDetached(try ledger.apply(.farEndHangup, to: id), id: id)
            case .cancelledByRemote:
                performDetached(try ledger.apply(.cancelledBeforeAnswer(by: .remote), to: id), id: id)
            case .failed(let status, let reason):
                logger.info("voice call failed", metadata: ["call": "\(id)", "status": "\(status)", "reason": "\(reason)"])
                performDetached(try ledger.apply(.failed(sipStatus: status == 0 ? 500 : status, reason: reason), to: id), id: id)
            case .media(let event):
                try media(id, event)
            case .faxDetection(let fax, let file):
                try ledger.report(.machineDetectionEnded(result: fax ? "fax" : "human"), to: id)
                if fax, let file, let call = try store.read({ try $0.voiceCall(callControlID: id) }) {
                    let offer = InboundOffer(uuid: id, did: call.toNumber, fromNumber: call.fromNumber, fromName: nil,
                                             trunk: call.trunk ?? "", file: file)
                    onFaxDetected?(offer, call.accountID)
                }
            case .faxEnded(let remoteHungUp):
                performDetached(try ledger.apply(remoteHungUp ? .farEndHangup : .localHangup(.command), to: id), id: id)
            case .ended(let summary):
                disarm(id)
                transfers[id] = nil
                numberStreams[id] = nil
                callEndedStopStream(id)
                legsEnded.insert(id)
                dialTimeouts[id] = nil
                if ledger.state(of: id)?.state != .ended {
                    // The leg ended without a signal the state machine could use (faxd stopping).
                    _ = try ledger.apply(.failed(sipStatus: summary.sipStatus >= 300 ? summary.sipStatus : 500, reason: "the call ended"), to: id)
                }
                if inbound.remove(id) != nil { directory.endCall(id) }
                metrics.voiceCallEnded()
                forgetIfDone(id)
            }
        } catch {
            logger.error("voice call event not recorded", metadata: ["call": "\(id)", "error": "\(error)"])
        }
    }

    private func offered(_ offer: InboundVoiceOffer) throws {
        inbound.insert(offer.id)
        metrics.voiceCallStarted(outbound: false)
        guard let accountID = directory.account(for: offer.did) else {
            orchestrator.voice(offer.id, .reject(sipStatus: 404))
            return
        }
        let ids = VoiceCallIDs.make()
        var call = VoiceCall(callControlID: offer.id, callLegID: ids.callLegID, callSessionID: ids.callSessionID, accountID: accountID,
                             direction: .inbound, fromNumber: offer.fromNumber ?? "anonymous", toNumber: offer.did, trunk: offer.trunk)
        call.nodeID = configuration.nodeID
        do {
            call = try store.write { try $0.insert(call) }
        } catch {
            logger.error("voice call refused: cannot record it", metadata: ["call": "\(offer.id)", "error": "\(error)"])
            orchestrator.voice(offer.id, .reject(sipStatus: 503))
            return
        }
        ledger.track(call)
        performDetached(try ledger.apply(.offered, to: offer.id), id: offer.id)
        arm(offer.id, seconds: configuration.voice.ringTimeoutSeconds)
        // A number with a stream answers at once and streams from the answer on.
        if let json = try? store.read({ try $0.account(id: accountID) })?.voiceStream {
            do {
                let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
                numberStreams[offer.id] = try StreamingStart(body: object)
                performDetached(try ledger.command(.answer, clientState: nil, to: offer.id), id: offer.id)
            } catch {
                logger.error("the number's voice_stream is not usable; the call is parked for the application", metadata: [
                    "call": "\(offer.id)", "error": "\(error)"])
            }
        }
    }

    private func media(_ id: String, _ event: VoiceEvent) throws {
        switch event {
        case .dtmf(let digit):
            try ledger.report(.dtmfReceived(digit: digit.key.description), to: id)
        case .playbackStarted(let playbackID, _):
            guard let name = playbacks[id]?[playbackID] else { return }
            try ledger.report(.playbackStarted(media: name), to: id)
        case .playbackEnded(let playbackID, _, let reason):
            guard let name = playbacks[id]?.removeValue(forKey: playbackID) else { return }
            let status = switch reason {
            case .finished: "completed"
            case .stopped: "cancelled"
            case .hangup: "call_hangup"
            }
            try ledger.report(.playbackEnded(media: name, status: status), to: id)
        case .recordingSaved(let summary):
            let started = recordingStarted[id] ?? Date().addingTimeInterval(-summary.seconds)
            try store.write { try $0.setVoiceCallRecording(callControlID: id, path: summary.path) }
            let base = configuration.http.publicURL ?? "http://\(configuration.http.listenHost):\(configuration.http.listenPort)"
            let saved = VoiceRecordingSaved(url: "\(base)/api/calls/\(id)/recording", startedAt: started,
                                            endedAt: started.addingTimeInterval(summary.seconds),
                                            durationMilliseconds: Int((summary.seconds * 1000).rounded()))
            try ledger.report(.recordingSaved(saved), to: id)
            performDetached(try ledger.apply(.recordingStopped, to: id), id: id)
            recordingFinished(id)
        case .recordingFailed(let path, let reason):
            logger.error("call recording not written", metadata: ["call": "\(id)", "file": "\(path)", "reason": "\(reason)"])
            performDetached(try ledger.apply(.recordingStopped, to: id), id: id)
            recordingFinished(id)
        case .finished(let report):
            switch report.reason {
            case .mediaTimeout: performDetached(try ledger.apply(.localHangup(.mediaTimeout), to: id), id: id)
            case .maxDuration: performDetached(try ledger.apply(.localHangup(.timeLimit), to: id), id: id)
            case .stopped, .handedOver: break
            }
        }
    }

    private func recordingFinished(_ id: String) {
        recordingsPending[id, default: 1] -= 1
        if recordingsPending[id] == 0 { recordingsPending[id] = nil }
        forgetIfDone(id)
    }

    /// A call is forgotten once its leg ended and no recording is still being written.
    func forgetIfDone(_ id: String) {
        guard legsEnded.contains(id), recordingsPending[id] == nil, !streams.contains(id) else { return }
        legsEnded.remove(id)
        recordingStarted[id] = nil
        recordingCounts[id] = nil
        playbacks[id] = nil
        ledger.forget(id)
    }

    // MARK: Timers (queue)

    private func arm(_ id: String, seconds: Int) {
        disarm(id)
        let item = DispatchWorkItem { [weak self] in
            guard let self else { return }
            self.timers[id] = nil
            do {
                self.performDetached(try self.ledger.apply(.noAnswerTimeout, to: id), id: id)
            } catch {
                self.logger.error("voice call timeout not recorded", metadata: ["call": "\(id)", "error": "\(error)"])
            }
        }
        timers[id] = item
        queue.asyncAfter(deadline: .now() + .seconds(seconds), execute: item)
    }

    private func disarm(_ id: String) {
        timers.removeValue(forKey: id)?.cancel()
    }

    // MARK: Files

    /// `<data>/recordings/<call_leg_id>-<n>.wav`: one file per record_start.
    private func recordingPath(_ id: String, legID: String?) -> String {
        let directory = configuration.dataDirectory + "/recordings"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let n = queue.sync { () -> Int in
            recordingCounts[id, default: 0] += 1
            return recordingCounts[id]!
        }
        let name = legID ?? String(id.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.prefix(40).map(Character.init))
        return "\(directory)/\(name)-\(n).wav"
    }

    /// A prompt named by `media_name` (a file in the media directory) or `audio_url`.
    private func loadPrompt(_ source: String) throws(VoiceCommandError) -> VoicePrompt {
        if source.hasPrefix("http://") || source.hasPrefix("https://") {
            throw VoiceCommandError(.notSupported, "audio_url: fetching prompts over HTTP is not available yet; put the WAV in the media directory and give media_name")
        }
        guard !source.contains("/"), !source.hasPrefix("."), source.count <= 255 else {
            throw VoiceCommandError(.invalidArgument, "media_name: '\(source.prefix(60))' must be a plain file name in the media directory")
        }
        let directory = configuration.voice.mediaDirectory ?? configuration.dataDirectory + "/voice_media"
        let path = "\(directory)/\(source)"
        guard FileManager.default.fileExists(atPath: path) else {
            throw VoiceCommandError(.mediaUnavailable, "media_name: no file '\(source.prefix(60))' in the media directory")
        }
        do {
            let prompt = try VoicePrompt.load(path)
            return VoicePrompt(name: source, samples: prompt.samples)
        } catch {
            throw VoiceCommandError(.mediaUnavailable, "media_name: \(source.prefix(60)): \(error.description.replacingOccurrences(of: directory + "/", with: ""))")
        }
    }

    private static func loadHoldMusic(_ path: String?, logger: Logger) -> VoicePrompt {
        if let path {
            do { return try VoicePrompt.load(path) } catch {
                logger.error("voice.hold_music cannot be played; using the beep", metadata: ["error": "\(error)"])
            }
        }
        // A soft 440 Hz beep of 0.3 s every 4 s.
        let beep = VoicePrompt.tone(frequency: 440, seconds: 0.3, amplitude: 3000).samples
        return VoicePrompt(name: "hold", samples: beep + [Int16](repeating: 0, count: 8000 * 4 - beep.count))
    }

    /// A refusal in the voice API's shape (`VoiceCallView.refusal`), titled by its code.
    static func errorJSON(_ code: String, _ message: String) -> [String: Any] {
        VoiceCallView.refusal(code: code, title: code.replacingOccurrences(of: "_", with: " "), detail: message)
    }
}
