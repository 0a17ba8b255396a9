import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceSettings
import Synchronization
import Voice
import WSClient

/// How a stream ended, or that it began. Telnyx Call Control v2: streaming.started, streaming.stopped, streaming.failed
public enum MediaStreamEvent: Sendable, Equatable {
    /// Connected; `connected` and `start` were sent.
    case started
    /// Ended as asked (streaming_stop, the call ended) or closed by the application with a close frame.
    case stopped(reason: String)
    /// Could not connect, lost the connection, or the application stopped reading.
    case failed(reason: String)
}

/// What a stream did, for the log and metrics.
public struct MediaStreamCounters: Sendable, Equatable {
    public var messagesSent = 0
    public var framesSent = 0
    public var messagesReceived = 0
    public var bytesQueued = 0
    public var invalidMessages = 0
    public var framesDropped = 0
    public var bytesRefused = 0
}

/// One call's media stream: faxd is the WebSocket client of the application at `request.url`.
/// It sends `connected` and `start`, then the call's audio as the shard captures it (a writer
/// task woken by the port each tick), digits and returned marks, and `stop` at the end; a reader
/// task plays the application's `media`, keeps its `mark`s and acts on `clear`. Nothing here runs
/// on a shard: the shard only touches the `port`. A slow application costs dropped frames, never
/// a late tick; a stalled one fails the stream after `stallTimeoutSeconds`. Events are reported
/// once each (`started`, then one of `stopped`/`failed`). Twilio Media Streams; RFC 6455
public final class MediaStreamSession: Sendable {
    public let request: MediaStreamRequest
    public let port: MediaStreamPort
    private let settings: StreamingSettings
    private let codec: StreamCodec
    private let logger: Logger
    private let onEvent: @Sendable (MediaStreamEvent) -> Void
    private let wakes: AsyncStream<Void>
    private let wakeUp: AsyncStream<Void>.Continuation
    private let state = Mutex(SessionState())

    struct SessionState {
        var task: Task<Void, Never>?
        var started = false
        var finished = false
        var stopRequested = false
        /// Telnyx `error` replies waiting for the writer (it owns the sequence numbers).
        var replies: [(code: Int, title: String, detail: String)] = []
        var counters = MediaStreamCounters()
        var invalidLogged = 0
    }

    /// Thrown inside the session to end it with a reason.
    struct Ended: Error { var event: MediaStreamEvent }

    public init(request: MediaStreamRequest, settings: StreamingSettings, logger: Logger,
                onEvent: @escaping @Sendable (MediaStreamEvent) -> Void) {
        self.request = request
        self.settings = settings
        self.logger = logger
        self.onEvent = onEvent
        codec = StreamCodec(request)
        (wakes, wakeUp) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let wakeUp = self.wakeUp
        let frames = max(1, settings.upstreamMilliseconds / 20) * (request.track == .both ? 2 : 1)
        port = MediaStreamPort(track: request.track, bidirectional: request.bidirectional, upstreamFrames: frames,
                               downstreamBytes: max(MediaStreamPort.frameBytes, settings.playoutMilliseconds * 8)) {
            wakeUp.yield()
        }
    }

    /// What the stream did so far.
    public var counters: MediaStreamCounters {
        var counters = state.withLock { $0.counters }
        counters.framesDropped = port.droppedFrames
        counters.bytesRefused = port.refusedBytes
        return counters
    }

    /// Connects and runs until stopped, the call ends or the connection fails. Its tasks run on
    /// `StreamExecutor`, not Swift's cooperative pool: code elsewhere that blocks a pool thread
    /// (a synchronous store read in an HTTP handler) must not delay a stream's frames or pongs.
    public func start() {
        let task = Task(executorPreference: StreamExecutor.shared) { await self.run() }
        state.withLock { $0.task = task }
    }

    /// Ends the stream: `stop` is sent and the socket closed (the task is cancelled when a
    /// stalled application keeps that from finishing within 2 s). Reported as `stopped(reason)`.
    public func stop(reason: String) {
        let task = state.withLock { s -> Task<Void, Never>? in
            s.stopRequested = true
            return s.task
        }
        finish(.stopped(reason: reason))
        port.end()
        Task {
            try? await Task.sleep(for: .seconds(2))
            task?.cancel()
        }
    }

    private func finish(_ event: MediaStreamEvent) {
        // Reported under the lock, so `started` and the end are told in the order they happened.
        let first = state.withLock { s -> Bool in
            guard !s.finished else { return false }
            s.finished = true
            onEvent(event)
            return true
        }
        guard first else { return }
        let c = counters
        logger.info("media stream ended", metadata: [
            "call": "\(request.callControlID)", "stream": "\(request.streamID)", "event": "\(event)",
            "frames_sent": "\(c.framesSent)", "messages_received": "\(c.messagesReceived)", "invalid": "\(c.invalidMessages)",
            "dropped": "\(c.framesDropped)", "refused_bytes": "\(c.bytesRefused)",
        ])
    }

    // MARK: The connection

    private func run() async {
        // A ping every stall timeout, and the connection closed when the last one got no pong: an
        // application that stops reading stops answering them long before TCP's buffers
        // (megabytes on loopback) fill and frames start to drop.
        let pingPeriod = Duration.seconds(max(1, settings.stallTimeoutSeconds))
        var configuration = WebSocketClientConfiguration(maxFrameSize: max(settings.maxMessageBytes * 4, 1 << 16), closeTimeout: .seconds(2),
                                                         autoPing: .enabled(timePeriod: pingPeriod))
        configuration.validateUTF8 = true
        var tls: TLSConfiguration?
        if request.url.lowercased().hasPrefix("wss:") {
            var config = TLSConfiguration.makeClientConfiguration()
            if let ca = settings.caFile { config.trustRoots = .file(ca) }
            tls = config
        }
        var socketLogger = logger
        socketLogger.logLevel = .warning
        do {
            let close = try await WebSocketClient.connect(url: request.url, configuration: configuration, tlsConfiguration: tls,
                                                          logger: socketLogger) { inbound, outbound, _ in
                try await self.converse(inbound, outbound)
            }
            let stopped = state.withLock { $0.stopRequested }
            if stopped || port.isEnded {
                // stop() has reported already with its reason; otherwise the leg ended.
                finish(.stopped(reason: "the call ended"))
            } else if let close, close.closeCode == .normalClosure || close.closeCode == .goingAway {
                finish(.stopped(reason: "the application closed the stream (\(close.closeCode)\(close.reason.map { ": \($0)" } ?? ""))"))
            } else if let close {
                finish(.failed(reason: "the application closed the stream with \(close.closeCode)\(close.reason.map { ": \($0)" } ?? "")"))
            } else {
                finish(.failed(reason: "the connection to \(request.url) was lost (closed without a close frame, or WebSocket pings unanswered for \(settings.stallTimeoutSeconds) s)"))
            }
        } catch let ended as Ended {
            finish(ended.event)
        } catch {
            let stopped = state.withLock { $0.stopRequested }
            if stopped || port.isEnded {
                finish(.stopped(reason: "the call ended"))
            } else {
                let started = state.withLock { $0.started }
                if !started {
                    finish(.failed(reason: "cannot connect to \(request.url): \(error)"))
                } else if let channelError = error as? ChannelError, channelError == .ioOnClosedChannel || channelError == .alreadyClosed {
                    finish(.failed(reason: "the connection to \(request.url) was closed (WebSocket pings unanswered for \(settings.stallTimeoutSeconds) s, or the application went away)"))
                } else {
                    finish(.failed(reason: "the connection to \(request.url) failed: \(error)"))
                }
            }
        }
        port.end()
    }

    private func converse(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter) async throws {
        try await outbound.write(.text(codec.connected()))
        try await outbound.write(.text(codec.start()))
        let live = state.withLock { s -> Bool in
            guard !s.finished else { return false }
            s.started = true
            s.counters.messagesSent += 2
            onEvent(.started)
            return true
        }
        guard live else { return }
        logger.info("media stream started", metadata: ["call": "\(request.callControlID)", "stream": "\(request.streamID)",
                                                       "url": "\(request.url)", "dialect": "\(request.dialect.rawValue)",
                                                       "track": "\(request.track.rawValue)", "bidirectional": "\(request.bidirectional)"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.write(outbound) }
            group.addTask {
                try await self.read(inbound)
                // The application closed its side: the writer has nobody to write to.
                throw CancellationError()
            }
            group.addTask { try await self.watchForStall() }
            do {
                try await group.next()
            } catch is CancellationError {
            }
            group.cancelAll()
        }
    }

    // MARK: Writer

    private func write(_ outbound: WebSocketOutboundWriter) async throws {
        var sequence = 1  // connected has none, start was 1
        var chunks = (inbound: 0, outbound: 0)
        for await _ in wakes {
            let up = port.take()
            var sent = 0
            for frame in up.frames {
                sequence += 1
                let chunk: Int
                if frame.outbound {
                    chunks.outbound += 1
                    chunk = chunks.outbound
                } else {
                    chunks.inbound += 1
                    chunk = chunks.inbound
                }
                try await outbound.write(.text(codec.media(sequence: sequence, outbound: frame.outbound, chunk: chunk,
                                                            milliseconds: frame.milliseconds, payload: frame.payload)))
                sent += 1
            }
            var messages = sent
            for digit in up.digits {
                sequence += 1
                try await outbound.write(.text(codec.dtmf(sequence: sequence, key: digit.key)))
                messages += 1
            }
            for name in up.marks {
                sequence += 1
                try await outbound.write(.text(codec.mark(sequence: sequence, name: name)))
                messages += 1
            }
            let replies = state.withLock { s -> [(code: Int, title: String, detail: String)] in
                defer { s.replies.removeAll() }
                return s.replies
            }
            for reply in replies {
                guard let text = codec.error(sequence: sequence + 1, code: reply.code, title: reply.title, detail: reply.detail) else { continue }
                sequence += 1
                try await outbound.write(.text(text))
                messages += 1
            }
            state.withLock {
                $0.counters.framesSent += sent
                $0.counters.messagesSent += messages
            }
            if up.ended || state.withLock({ $0.stopRequested }) {
                sequence += 1
                try await outbound.write(.text(codec.stop(sequence: sequence)))
                return
            }
        }
    }

    /// Fails the stream once frames were dropped in each of `stallTimeoutSeconds` one-second checks.
    private func watchForStall() async throws {
        var last = port.droppedFrames
        var stalledSeconds = 0
        while true {
            try await Task.sleep(for: .seconds(1))
            let now = port.droppedFrames
            stalledSeconds = now > last ? stalledSeconds + 1 : 0
            last = now
            if stalledSeconds >= settings.stallTimeoutSeconds {
                throw Ended(event: .failed(reason: "the application has not read the stream for \(stalledSeconds) s (\(now) frames dropped)"))
            }
        }
    }

    // MARK: Reader

    private func read(_ inbound: WebSocketInboundStream) async throws {
        var message = ByteBuffer()
        var isText = true
        var oversize = false
        var assembling = false
        for try await frame in inbound {
            switch frame.opcode {
            case .text, .binary:
                message.clear()
                isText = frame.opcode == .text
                oversize = false
                assembling = true
            case .continuation:
                guard assembling else { continue }
            }
            if !oversize {
                if message.readableBytes + frame.data.readableBytes > settings.maxMessageBytes {
                    oversize = true
                    message.clear()
                } else {
                    var data = frame.data
                    message.writeBuffer(&data)
                }
            }
            guard frame.fin else { continue }
            assembling = false
            state.withLock { $0.counters.messagesReceived += 1 }
            if oversize {
                invalid(code: StreamCodec.TelnyxError.malformedFrame.0, title: StreamCodec.TelnyxError.malformedFrame.1,
                        detail: "a message larger than \(settings.maxMessageBytes) bytes")
            } else if !isText {
                invalid(code: StreamCodec.TelnyxError.malformedFrame.0, title: StreamCodec.TelnyxError.malformedFrame.1,
                        detail: "a binary message of \(message.readableBytes) bytes (messages are JSON text)")
            } else {
                handle(codec.read(String(buffer: message)))
            }
        }
    }

    private func handle(_ inbound: StreamInbound) {
        switch inbound {
        case .media(let audio):
            guard request.bidirectional else {
                invalid(code: StreamCodec.TelnyxError.invalidMedia.0, title: StreamCodec.TelnyxError.invalidMedia.1,
                        detail: "media from the application on a stream that is not bidirectional")
                return
            }
            port.enqueue(audio)
            state.withLock { $0.counters.bytesQueued += audio.count }
        case .mark(let name):
            port.mark(name)
        case .clear:
            let dropped = port.clear()
            logger.debug("media stream cleared", metadata: ["stream": "\(request.streamID)", "bytes": "\(dropped)"])
        case .invalid(let code, let title, let detail):
            invalid(code: code, title: title, detail: detail)
        }
    }

    /// Logs (the first 10, then every 100th) and ignores a message; Telnyx hears `error`.
    private func invalid(code: Int, title: String, detail: String) {
        let (count, log) = state.withLock { s -> (Int, Bool) in
            s.counters.invalidMessages += 1
            let log = s.invalidLogged < 10 || s.counters.invalidMessages % 100 == 0
            if log { s.invalidLogged += 1 }
            if request.dialect == .telnyx && s.replies.count < 16 { s.replies.append((code, title, detail)) }
            return (s.counters.invalidMessages, log)
        }
        if log {
            logger.notice("media stream: message from the application ignored", metadata: [
                "call": "\(request.callControlID)", "stream": "\(request.streamID)", "reason": "\(detail)", "count": "\(count)",
            ])
        }
        wakeUp.yield()
    }
}

/// Where media stream tasks run: Dispatch's worker threads (a concurrent queue; one task's jobs
/// never overlap), apart from Swift's cooperative pool, which has one thread per core and stalls
/// every task on it when some code blocks one of them.
final class StreamExecutor: TaskExecutor, @unchecked Sendable {
    static let shared = StreamExecutor()
    private let queue = DispatchQueue(label: "faxd-streams", qos: .userInitiated, attributes: .concurrent)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}
