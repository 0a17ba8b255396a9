import Foundation
import Logging
import MediaStreams
import Store
import Synchronization
import Voice

/// The media streams running, one per call at most. Any thread.
final class VoiceStreams: Sendable {
    private let sessions = Mutex<[String: MediaStreamSession]>([:])

    /// Registers `session` for call `id`; false when the call already streams.
    func add(_ id: String, _ session: MediaStreamSession) -> Bool {
        sessions.withLock { map in
            guard map[id] == nil else { return false }
            map[id] = session
            return true
        }
    }

    func session(_ id: String) -> MediaStreamSession? { sessions.withLock { $0[id] } }

    /// Removes the call's session if it is `session`; true when it was.
    @discardableResult
    func remove(_ id: String, ifIs session: MediaStreamSession) -> Bool {
        sessions.withLock { map in
            guard map[id] === session else { return false }
            map[id] = nil
            return true
        }
    }

    func contains(_ id: String) -> Bool { sessions.withLock { $0[id] != nil } }
}

/// Media streams (issue 17): `streaming_start` and `streaming_stop`, a voice number's stream
/// started at answer, and the `streaming.*` webhooks. The session runs on its own tasks; its
/// events are handled on the service queue like the engine's signals, and a call is forgotten
/// only after its stream's last event was recorded.
extension VoiceService {
    /// Starts streaming call `call` to `start.url`: the port is attached to the leg's channel on
    /// its shard, then the WebSocket connects. Returns why it could not start. Telnyx Call Control v2: streaming_start
    func startStream(_ start: StreamingStart, call: VoiceCall) async -> String? {
        let id = call.callControlID
        let request = MediaStreamRequest(url: start.url, dialect: start.dialect, track: start.track, bidirectional: start.bidirectional,
                                         customParameters: start.customParameters, streamID: MediaStreamRequest.newStreamID(start.dialect),
                                         callControlID: id, callSessionID: call.callSessionID, accountID: String(call.accountID),
                                         from: call.fromNumber, to: call.toNumber, clientState: call.clientState)
        let info = VoiceStreamInfo(start, streamID: request.streamID)
        let box = SessionBox()
        let session = MediaStreamSession(request: request, settings: configuration.streaming, logger: logger) { [weak self] event in
            guard let self, let session = box.session else { return }
            queue.async { self.streamEvent(id, session, info, event) }
        }
        box.session = session
        guard streams.add(id, session) else { return "the call is already streaming; send streaming_stop first" }
        metrics.streamStarted()
        let problem = await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            orchestrator.voice(id, .stream(session.port)) { continuation.resume(returning: $0) }
        }
        if let problem {
            streams.remove(id, ifIs: session)
            metrics.streamEnded(failed: true, dropped: 0, refused: 0, invalid: 0)
            return problem
        }
        session.start()
        return nil
    }

    /// Stops call `id`'s stream: the leg stops feeding it, `stop` is sent, the socket closes;
    /// `streaming.stopped` follows. Returns why not. Telnyx Call Control v2: streaming_stop
    func stopStream(_ id: String, reason: String) async -> String? {
        guard let session = streams.session(id) else { return "the call is not streaming" }
        // Reported with this reason first; then the leg stops feeding it.
        session.stop(reason: reason)
        _ = await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            orchestrator.voice(id, .stream(nil)) { continuation.resume(returning: $0) }
        }
        return nil
    }

    /// The call ended: its stream stops (its `streaming.stopped` is recorded before the call is forgotten). Queue.
    func callEndedStopStream(_ id: String) {
        streams.session(id)?.stop(reason: "the call ended")
    }

    /// A voice number with a stream: the call was answered; stream it. Queue.
    func startNumberStream(_ id: String, _ start: StreamingStart) {
        Task {
            guard let call = try? store.read({ try $0.voiceCall(callControlID: id) }) else { return }
            if let problem = await startStream(start, call: call) {
                logger.error("the number's media stream did not start", metadata: ["call": "\(id)", "reason": "\(problem)"])
                queue.async { _ = try? self.ledger.report(.streamingFailed(VoiceStreamInfo(start, streamID: ""), reason: problem), to: id) }
            }
        }
    }

    /// A stream's event: its webhook; at its end it leaves the registry, the leg stops feeding
    /// it, and per `streaming.on_failure` a failure hangs the call up. Queue.
    private func streamEvent(_ id: String, _ session: MediaStreamSession, _ info: VoiceStreamInfo, _ event: MediaStreamEvent) {
        do {
            switch event {
            case .started:
                try ledger.report(.streamingStarted(info), to: id)
            case .stopped(let reason), .failed(let reason):
                let failed = if case .failed = event { true } else { false }
                let counters = session.counters
                metrics.streamEnded(failed: failed, dropped: counters.framesDropped, refused: counters.bytesRefused, invalid: counters.invalidMessages)
                let current = streams.remove(id, ifIs: session)
                let live = ledger.state(of: id).map { $0.state == .active } ?? false
                if current && live {
                    orchestrator.voice(id, .stream(nil))
                }
                try ledger.report(failed ? .streamingFailed(info, reason: reason) : .streamingStopped(info, reason: reason), to: id)
                if failed && live && configuration.streaming.onFailure == .hangup {
                    logger.notice("media stream failed: hanging up (streaming.on_failure: hangup)", metadata: ["call": "\(id)", "reason": "\(reason)"])
                    performDetached(try ledger.apply(.localHangup(.command), to: id), id: id)
                }
                forgetIfDone(id)
            }
        } catch {
            logger.error("media stream event not recorded", metadata: ["call": "\(id)", "event": "\(event)", "error": "\(error)"])
        }
    }
}

extension VoiceStreamInfo {
    /// The webhook's view of a stream being started.
    init(_ start: StreamingStart, streamID: String) {
        self.init(streamID: streamID, url: start.url, track: start.trackName, dialect: start.dialect.rawValue)
    }
}

/// Lets a session's event handler name the session it belongs to (set once, before it starts).
private final class SessionBox: @unchecked Sendable {
    weak var session: MediaStreamSession?
}
