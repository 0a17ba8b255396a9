internal import CSofiaSIP
import Foundation
import Synchronization

/// Settings for the SIP user agent (sofia: nua_create tags).
public struct SIPAgentConfiguration: Sendable, Equatable {
    /// Where to listen, as a SIP URI: "sip:127.0.0.1:5060" listens on UDP and TCP; "sip:*:*" picks
    /// any port. With a public address, "sip:PUBLIC:PORT;maddr=LOCAL" advertises PUBLIC.
    public var bindURL: String
    /// User-Agent and Server header.
    public var userAgent: String = "faxd/0.1"
    /// Session-Expires we ask for, 0 for none (RFC 4028); the far end refreshes.
    public var sessionTimer: UInt32 = 0
    /// sofia-sip log level 0...9 to stderr.
    public var debugLevel: Int = 0
    /// CRLF keepalive ping interval on TCP connections (sofia: TPTAG_KEEPALIVE).
    public var tcpKeepaliveSeconds: Int = 30
    /// A TCP connection with no traffic for this long is closed (sofia: TPTAG_IDLE); longer than
    /// any call, since a dialog holds no reference on its connection.
    public var tcpIdleSeconds: Int = 4200

    public init(bindURL: String, userAgent: String = "faxd/0.1", sessionTimer: UInt32 = 0, debugLevel: Int = 0,
                tcpKeepaliveSeconds: Int = 30, tcpIdleSeconds: Int = 4200) {
        self.bindURL = bindURL
        self.userAgent = userAgent
        self.sessionTimer = sessionTimer
        self.debugLevel = debugLevel
        self.tcpKeepaliveSeconds = tcpKeepaliveSeconds
        self.tcpIdleSeconds = tcpIdleSeconds
    }
}

/// Receives every SIP event, on the agent thread.
public protocol SIPEventHandler: AnyObject {
    func sipAgent(_ agent: SIPAgent, didReceive event: SIPEvent)
}

/// Owns sofia-sip (su_root + nua) and the one thread it runs on. sofia is not thread safe: every
/// call into it happens on that thread. Other threads hand work over with `post`, which wakes the
/// loop through an eventfd. Methods marked "agent thread" check it in debug builds.
public final class SIPAgent: @unchecked Sendable {
    public let configuration: SIPAgentConfiguration
    private var agent: OpaquePointer?
    private var thread: Thread?
    private var handler: SIPEventHandler?
    private let pending = Mutex<[@Sendable () -> Void]>([])
    private let finished = DispatchSemaphore(value: 0)
    private let state = Mutex<(running: Bool, stopping: Bool)>((false, false))

    public init(configuration: SIPAgentConfiguration) {
        self.configuration = configuration
    }

    /// Starts the agent thread and listens; throws when sofia cannot bind (port in use, bad URL).
    public func start(handler: SIPEventHandler) throws(SIPError) {
        self.handler = handler
        let ready = DispatchSemaphore(value: 0)
        let failure = Mutex<String?>(nil)
        let thread = Thread { [self] in
            let created: OpaquePointer? = withOptions { options in
                var err = [CChar](repeating: 0, count: 256)
                let ctx = Unmanaged.passUnretained(self).toOpaque()
                let agent = csofiasip_agent_create(options, { ctx, ev in
                    guard let ctx, let ev else { return }
                    Unmanaged<SIPAgent>.fromOpaque(ctx).takeUnretainedValue().deliver(ev.pointee)
                }, { ctx in
                    guard let ctx else { return }
                    Unmanaged<SIPAgent>.fromOpaque(ctx).takeUnretainedValue().drain()
                }, ctx, &err, err.count)
                if agent == nil {
                    failure.withLock { $0 = String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
                }
                return agent
            }
            guard let created else {
                ready.signal()
                return
            }
            self.agent = created
            self.state.withLock { $0.running = true }
            ready.signal()
            csofiasip_agent_run(created)
            // No post may wake the loop from here on: its eventfd dies with the agent.
            self.state.withLock { $0.running = false }
            self.drain()
            csofiasip_agent_destroy(created)
            self.agent = nil
            self.handler = nil
            self.finished.signal()
        }
        thread.name = "faxd-sip"
        thread.stackSize = 1 << 20
        self.thread = thread
        thread.start()
        ready.wait()
        if let reason = failure.withLock({ $0 }) {
            self.handler = nil
            throw SIPError(reason)
        }
    }

    private func withOptions<R>(_ body: (UnsafePointer<csofiasip_options>) -> R) -> R {
        // Every string through withCString: a String passed straight to a `const char *` field
        // is a temporary that dies when the initializer returns.
        configuration.bindURL.withCString { bind in
            configuration.userAgent.withCString { ua in
                Self.allowedMethods.withCString { allow in
                    var options = csofiasip_options(bind_url: bind, user_agent: ua, allow: allow,
                                                    session_timer: configuration.sessionTimer,
                                                    debug_level: Int32(configuration.debugLevel),
                                                    tcp_keepalive_ms: UInt32(clamping: configuration.tcpKeepaliveSeconds * 1000),
                                                    tcp_idle_ms: UInt32(clamping: configuration.tcpIdleSeconds * 1000))
                    return withUnsafePointer(to: &options) { body($0) }
                }
            }
        }
    }

    /// nua handles the application owns and has not destroyed: calls in progress plus any
    /// request still being answered. A number that only grows is a dialog leak. Any thread.
    public var liveHandles: Int {
        state.withLock { s in
            guard s.running, let agent else { return 0 }
            return Int(csofiasip_agent_live_handles(agent))
        }
    }

    /// The methods faxd takes, as sent in Allow (the shim's NUTAG_ALLOW).
    public static let allowedMethods = "INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, UPDATE, INFO"

    /// True on the agent thread.
    public var isOnAgentThread: Bool { Thread.current === thread }

    /// Runs `work` on the agent thread soon. Safe from any thread; dropped once the agent stopped.
    @discardableResult
    public func post(_ work: @escaping @Sendable () -> Void) -> Bool {
        // Check, queue and wake under one lock: the agent thread clears `running` under it before
        // it destroys sofia and the eventfd, so a post never writes to a freed agent or a reused fd.
        state.withLock { s in
            guard s.running, let agent else { return false }
            pending.withLock { $0.append(work) }
            csofiasip_agent_wakeup(agent)
            return true
        }
    }

    private func drain() {
        while true {
            let batch = pending.withLock { items -> [@Sendable () -> Void] in
                let taken = items
                items.removeAll(keepingCapacity: true)
                return taken
            }
            if batch.isEmpty { return }
            for work in batch { work() }
        }
    }

    private func deliver(_ raw: csofiasip_event) {
        let event = SIPEvent(raw)
        handler?.sipAgent(self, didReceive: event)
    }

    // MARK: Requests and responses (agent thread)

    private func assertAgentThread() {
        assert(isOnAgentThread, "sofia-sip may only be called on the agent thread")
    }

    /// Answers the current request on `handle` (sofia: nua_respond). Agent thread.
    /// The reason phrase is sofia's standard one for `status` (nua keeps a pointer to the phrase,
    /// not a copy, until the response is sent: a caller's string would dangle); it is returned for
    /// the call record.
    @discardableResult
    public func respond(_ handle: SIPHandle, status: Int, sdp: String? = nil, headers: String? = nil) -> String {
        assertAgentThread()
        csofiasip_respond(handle.pointer, Int32(status), sdp == nil ? nil : "application/sdp", sdp, headers)
        return Self.phrase(for: status)
    }

    /// Answers the request of the event being delivered (sofia: nua_respond with NUTAG_WITH_THIS):
    /// OPTIONS, which nua matches by its message, not by the handle. Only from inside
    /// `sipAgent(_:didReceive:)`; the phrase is sofia's, as in `respond`.
    public func respondToCurrentRequest(_ handle: SIPHandle, status: Int, headers: String? = nil) {
        assertAgentThread()
        guard let agent else { return }
        csofiasip_respond_current(agent, handle.pointer, Int32(status), headers)
    }

    /// sofia's standard reason phrase for a status code.
    public static func phrase(for status: Int) -> String {
        csofiasip_status_phrase(Int32(status)).map { String(cString: $0) } ?? ""
    }

    /// Sends an INVITE on a new dialog (sofia: nua_handle, nua_invite). Agent thread.
    public func invite(requestURI: String, from: String?, to: String?, route: String?, sdp: String?,
                       headers: String? = nil) -> SIPHandle? {
        assertAgentThread()
        guard let agent else { return nil }
        guard let nh = csofiasip_invite(agent, requestURI, from, to, route,
                                        sdp == nil ? nil : "application/sdp", sdp, headers) else { return nil }
        return SIPHandle(nh)
    }

    /// Sends a re-INVITE (sofia: nua_invite on an established handle). Agent thread.
    public func reinvite(_ handle: SIPHandle, sdp: String) {
        assertAgentThread()
        csofiasip_reinvite(handle.pointer, "application/sdp", sdp)
    }

    /// Hangs up an established call (sofia: nua_bye). Agent thread.
    public func bye(_ handle: SIPHandle) {
        assertAgentThread()
        csofiasip_bye(handle.pointer)
    }

    /// Cancels our INVITE before it is answered (sofia: nua_cancel). Agent thread.
    public func cancel(_ handle: SIPHandle) {
        assertAgentThread()
        csofiasip_cancel(handle.pointer)
    }

    /// Answers a 401/407 challenge with digest credentials (sofia: nua_authenticate). Agent thread.
    public func authenticate(_ handle: SIPHandle, scheme: String, realm: String, username: String, password: String) {
        assertAgentThread()
        // sofia's credential string is scheme:"realm":user:password (nua_authenticate, NUTAG_AUTH).
        csofiasip_authenticate(handle.pointer, "\(scheme):\"\(realm)\":\(username):\(password)")
    }

    /// Releases a handle once its dialog is over (sofia: nua_handle_destroy). Agent thread.
    public func destroy(_ handle: SIPHandle) {
        assertAgentThread()
        csofiasip_handle_destroy(handle.pointer)
    }

    // MARK: Shutdown

    /// Starts an orderly shutdown (open dialogs get BYE from nua) and waits until the thread is
    /// gone, at most about 6 s. Safe from any thread but the agent thread.
    public func shutdown() {
        let shouldStop = state.withLock { s -> Bool in
            guard s.running, !s.stopping else { return false }
            s.stopping = true
            return true
        }
        guard shouldStop else { return }
        post { [self] in
            if let agent { csofiasip_agent_shutdown(agent) }
        }
        _ = finished.wait(timeout: .now() + 8)
    }
}

extension SIPEvent {
    init(_ raw: csofiasip_event) {
        func s(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0) } }
        let kind: Kind
        switch Int(raw.kind) {
        case Int(CSOFIASIP_EV_I_INVITE.rawValue): kind = .incomingInvite
        case Int(CSOFIASIP_EV_I_ACK.rawValue): kind = .incomingAck
        case Int(CSOFIASIP_EV_I_BYE.rawValue): kind = .incomingBye
        case Int(CSOFIASIP_EV_I_CANCEL.rawValue): kind = .incomingCancel
        case Int(CSOFIASIP_EV_I_OPTIONS.rawValue): kind = .incomingOptions
        case Int(CSOFIASIP_EV_I_STATE.rawValue): kind = .stateChanged
        case Int(CSOFIASIP_EV_I_TERMINATED.rawValue): kind = .terminated
        case Int(CSOFIASIP_EV_I_UPDATE.rawValue): kind = .incomingUpdate
        case Int(CSOFIASIP_EV_I_INFO.rawValue): kind = .incomingInfo
        case Int(CSOFIASIP_EV_R_INVITE.rawValue): kind = .inviteResponse
        case Int(CSOFIASIP_EV_R_BYE.rawValue): kind = .byeResponse
        case Int(CSOFIASIP_EV_R_CANCEL.rawValue): kind = .cancelResponse
        case Int(CSOFIASIP_EV_R_SHUTDOWN.rawValue): kind = .shutdownResponse
        case Int(CSOFIASIP_EV_I_ERROR.rawValue): kind = .error
        default: kind = .other
        }
        var body: String?
        if let data = raw.body, raw.body_len > 0 {
            body = String(decoding: UnsafeRawBufferPointer(start: data, count: raw.body_len), as: UTF8.self)
        }
        self.init(kind: kind, name: s(raw.event_name) ?? "nua event \(raw.nua_event)", status: Int(raw.status),
                  phrase: s(raw.phrase) ?? "", handle: raw.handle.map(SIPHandle.init),
                  callState: kind == .stateChanged ? CallState(rawValue: Int(raw.call_state)) : nil,
                  callID: s(raw.call_id), cseqMethod: s(raw.cseq_method), requestURI: s(raw.request_uri),
                  requestUser: s(raw.request_user), fromURI: s(raw.from_uri), fromUser: s(raw.from_user),
                  fromDisplay: s(raw.from_display), toURI: s(raw.to_uri), toUser: s(raw.to_user),
                  contentType: s(raw.content_type), body: body, sourceAddress: s(raw.source_ip),
                  sourcePort: Int(raw.source_port), transport: s(raw.transport),
                  authRealm: s(raw.auth_realm), authScheme: s(raw.auth_scheme),
                  accept: s(raw.accept).map { $0.lowercased().split(separator: ",").map(String.init) })
    }
}
