import Delivery
import Dispatch
import Engine
import Foundation
import Logging
import Store
import Synchronization

/// faxd as a service: the engine (`Daemon`) plus the store and the processors. It routes inbound
/// calls to accounts, records every call, runs the send queue, and recovers what a crash left.
///
/// Threads: the SIP thread only consults the in-memory `AccountDirectory` and posts to the
/// processing queue; everything else here (SQLite through the store's queue, TIFF reading, PDF
/// writing, scheduling) runs on the serial `faxd-processing` queue, never on a shard.
public final class FaxService: @unchecked Sendable {
    public let configuration: FaxdConfiguration
    public let store: FaxStore
    public let daemon: Daemon
    public let directory: AccountDirectory
    /// Delivers the outbox (email, webhooks).
    public let delivery: OutboxDispatcher
    /// Call, page and T.30 counters for /metrics.
    public let metrics = ServiceMetrics()
    /// This service start: idempotency claims carry it, so claims of a process that died are
    /// known as orphans (released at start, and on sight).
    public let instanceID = UUID().uuidString
    private let startedAt = Date()
    private var lastHeartbeat = Date.distantPast
    private var lastTakeover = Date.distantPast
    /// LISTEN/NOTIFY between nodes on PostgreSQL: work another node queued is taken at once.
    private let wakeups: StoreWakeups?
    /// Where this node's HTTP API is, for other nodes (set once it listens).
    private let apiAddress = Mutex<String?>(nil)
    /// From the last heartbeat: the live nodes' service starts and names.
    private let cluster = Mutex<(instances: Set<String>, nodes: Set<String>)>(([], []))
    /// Storage quota, upload expiry, the temporary directory and the conversion slots.
    public let documents: DocumentStorage
    /// Voice calls (issue 16): dial, commands, and the engine's voice signals.
    public let voice: VoiceService
    let queue = DispatchQueue(label: "faxd-processing")
    let inbound: InboundProcessor
    let outbound: OutboundQueue
    let logger: Logger
    private var timer: DispatchSourceTimer?
    private var dataVersion = -1
    /// Why faxes cannot be stored now (full or unwritable data directory); nil when fine.
    let storage = StorageHealth()
    private var lockDescriptor: Int32 = -1
    private var lastSweep = Date()
    private var lastExpiry = Date.distantPast

    /// Opens (and migrates) the database and builds the engine; nothing listens yet.
    public init(configuration: FaxdConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        store = try FaxStore(location: try configuration.storeLocation())
        daemon = try Daemon(configuration: configuration, logger: logger)
        directory = AccountDirectory(catchAll: configuration.processing.catchAllAccount)
        inbound = InboundProcessor(store: store, configuration: configuration, logger: logger)
        outbound = OutboundQueue(store: store, configuration: configuration, orchestrator: daemon.orchestrator, logger: logger, queue: queue)
        delivery = OutboxDispatcher(store: store, settings: configuration.delivery, userAgent: configuration.sip.userAgent,
                                    node: configuration.nodeID, logger: logger)
        documents = DocumentStorage(configuration: configuration, store: store)
        wakeups = StoreWakeups(location: store.location, logger: logger) { [queue, outbound, delivery] what in
            if what == "sends" { queue.async { outbound.tick() } } else { delivery.poke() }
        }
        voice = VoiceService(store: store, configuration: configuration, orchestrator: daemon.orchestrator, directory: directory,
                             metrics: metrics, logger: logger) { [delivery] in delivery.poke() }
        outbound.onRecorded = { [delivery] in delivery.poke() }
        inbound.accountFor = { [directory] did in directory.account(for: did) }
    }

    /// Recovers interrupted calls, loads the account directory, starts SIP and media, then the
    /// scheduler.
    public func start() throws {
        try lockDataDirectory()
        // The storage check below looks at fax_files/rx: make the directories first (the daemon
        // would, but only as SIP starts listening, and the first calls would meet a 503).
        for directory in [configuration.receiveDirectory, configuration.transmitDirectory, configuration.archiveDirectory] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        // Faxes, documents and the database are the customers': owner only, whatever an earlier
        // version or an operator's umask left (new files are 0600 under faxd's umask 077).
        DataPermissions.restrict(configuration: configuration, logger: logger)
        // Spooled bodies and conversion files of a process that died are nobody's now.
        try documents.emptyTemporaryDirectory()
        queue.sync { heartbeat(now: Date(), force: true) }
        if let released = try? store.write({ try $0.releaseIdempotencyClaims(except: liveInstances) }), released > 0 {
            logger.notice("idempotency claims of an earlier run released", metadata: ["count": "\(released)"])
        }
        try queue.sync {
            checkStorage()
            recover()
            try reloadDirectory()
        }
        let inboundLimit = configuration.processing.accountInboundCalls
        daemon.orchestrator.route { [directory, queue, inbound, storage] offer in
            if let problem = storage.problem {
                return .reject(status: 503, reason: "faxd cannot store faxes now: \(problem)")
            }
            switch directory.resolve(offer.did) {
            case .success(let entry):
                guard directory.beginCall(offer.uuid, accountID: entry.accountID, limit: inboundLimit) else {
                    return .reject(status: 486, reason: "account \(offer.did) already has \(inboundLimit) calls in progress (processing.account_inbound_calls)")
                }
                // A voice number's call is the voice service's (it ends the count when the leg ends).
                if entry.mode == .voice { return .voice }
                if entry.mode == .auto { return .auto }
                queue.async { inbound.callStarted(offer, accountID: entry.accountID) }
                return .accept(record: entry.record)
            case .failure(let refusal):
                return .reject(status: refusal.status, reason: refusal.reason)
            }
        }
        daemon.orchestrator.onOutcome { [queue, inbound, delivery, metrics, directory] outcome in
            metrics.record(outcome)
            guard outcome.direction == .inbound else { return }  // outbound outcomes reach the queue by completion
            directory.endCall(outcome.uuid)
            queue.async {
                inbound.callEnded(outcome)
                delivery.poke()
            }
        }
        voice.recover(liveNodes: liveNodes)
        voice.onFaxDetected = { [queue, inbound] offer, accountID in
            queue.async { inbound.callStarted(offer, accountID: accountID) }
        }
        voice.start()
        try daemon.start()
        delivery.start()
        wakeups?.start()
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let interval = configuration.processing.schedulerIntervalMilliseconds
        timer.schedule(deadline: .now(), repeating: .milliseconds(interval), leeway: .milliseconds(interval / 10))
        timer.setEventHandler { [weak self] in self?.periodic() }
        timer.resume()
        self.timer = timer
        logger.info("processing started", metadata: ["database": "\(store.path)"])
    }

    /// Stops dialling, ends every call (their outcomes are recorded: interrupted sends go back to
    /// the queue), then waits for the processing queue to finish writing.
    public func stop() {
        queue.sync {
            outbound.dialing = false
            timer?.cancel()
            timer = nil
        }
        daemon.stop()
        voice.drain()
        queue.sync {}
        delivery.stop()
        wakeups?.stop()
        if lockDescriptor >= 0 {
            close(lockDescriptor)
            lockDescriptor = -1
        }
    }

    /// One service per data directory: a second `faxd serve` on the same directory would
    /// "recover" the first one's live calls. flock(2) on `<data>/faxd.lock` (released by the
    /// kernel when the process dies, so kill -9 leaves no stale lock).
    private func lockDataDirectory() throws {
        let path = configuration.dataDirectory + "/faxd.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ConfigurationError("\(path): cannot open the lock file (\(String(cString: strerror(errno))))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buffer, 31, 0)
            close(fd)
            let holder = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            throw ConfigurationError("\(configuration.dataDirectory) is in use by another faxd serve (pid \(holder)); one daemon per data directory")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.count, 0)
        lockDescriptor = fd
    }

    /// Queues a send (see `FaxSubmission.enqueue`) and wakes the scheduler.
    public func enqueue(_ request: SendRequest) throws(SubmissionError) -> FaxTransmission {
        if let problem = storage.problem {
            throw SubmissionError(.storage, "faxd cannot store faxes now: \(problem)")
        }
        let transmission = try FaxSubmission.enqueue(request, store: store, configuration: configuration)
        queue.async { [outbound] in outbound.tick() }
        delivery.poke()
        return transmission
    }

    /// Reloads the DID directory now (after account changes made in this process).
    public func accountsChanged() {
        queue.async { [self] in try? reloadDirectory() }
    }

    /// Starts or ends a drain (`faxd drain`, POST/DELETE /admin/drain): no new calls (503 to
    /// INVITE and OPTIONS) and no new sends dialled; calls in progress finish. Any thread.
    public func setDraining(_ on: Bool) {
        daemon.orchestrator.setDraining(on)
        if !on { queue.async { [outbound] in outbound.tick() } }
    }

    /// Waits until everything queued for processing so far has been written.
    public func drain() { queue.sync {} }

    /// Sends with a call in progress; any thread, no wait.
    public var activeSends: Int { outbound.activeCount }

    /// Checks the data directory: writable, and at least `processing.min_free_mb` free (statvfs).
    func checkStorage() {
        var problem: String?
        let directory = configuration.receiveDirectory
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) || !isDirectory.boolValue {
            problem = "the received-fax directory (fax_files/rx) is not a directory"
        } else if access(directory, W_OK) != 0 {
            problem = "the received-fax directory (fax_files/rx) is not writable (\(String(cString: strerror(errno))))"
        } else {
            var stats = statvfs()
            if statvfs(directory, &stats) == 0 {
                let free = Int(stats.f_bavail) * Int(stats.f_frsize) / (1024 * 1024)
                if free < configuration.processing.minFreeMegabytes {
                    problem = "only \(free) MB free in the data directory (processing.min_free_mb is \(configuration.processing.minFreeMegabytes))"
                }
            }
        }
        let old = storage.update(problem)
        if old != problem {
            // The reason reaches carriers (SIP Warning) and API clients: no server path in it;
            // the operator's log names the directory.
            if let problem { logger.error("refusing new calls and sends", metadata: ["reason": "\(problem)", "directory": "\(directory)"]) } else { logger.notice("storage is fine again: taking calls") }
        }
    }

    private func periodic() {
        checkStorage()
        heartbeat(now: Date())
        if let version = try? store.dataVersion(), version != dataVersion {
            dataVersion = version
            try? reloadDirectory()
        }
        // A send whose record says dialing/transmitting but that has no call (an error path lost
        // it) is treated like one a crash interrupted, once it has been quiet for max_call_s.
        let now = Date()
        if now.timeIntervalSince(lastSweep) > 60 {
            lastSweep = now
            outbound.recover(now: now, olderThan: Double(configuration.media.maxCallSeconds + 120), liveNodes: liveNodes)
        }
        // Upload expiry: often enough that an upload outlives its expiry by at most a quarter of it
        // (or a minute), rarely enough that the directory listing costs nothing.
        let expiry = Double(configuration.processing.uploadExpirySeconds)
        if now.timeIntervalSince(lastExpiry) >= min(60, expiry / 4) {
            lastExpiry = now
            let removed = documents.expireUploads(now: now)
            if removed > 0 { logger.info("expired uploads deleted", metadata: ["count": "\(removed)"]) }
        }
        outbound.tick()
    }

    /// Writes this node's heartbeat (at most once a second) and reads the others': the service
    /// starts still running (their idempotency claims are not orphans) and the nodes alive (a
    /// send of any other node is taken over by `OutboundQueue.recover`).
    /// One SQLite file has one daemon (the data directory's lock): no heartbeat, nothing to take over.
    private func heartbeat(now: Date, force: Bool = false) {
        guard store.isShared, force || now.timeIntervalSince(lastHeartbeat) >= 1 else { return }
        lastHeartbeat = now
        let lease = Double(configuration.processing.nodeLeaseSeconds)
        let me = FaxdNode(nodeID: configuration.nodeID, instanceID: instanceID, sipAddress: "\(configuration.sip.publicAddress ?? configuration.sip.listenHost):\(configuration.sip.listenPort)",
                          apiAddress: apiAddress.withLock { $0 },
                          draining: !outbound.dialing || daemon.orchestrator.isDraining, startedAt: startedAt, heartbeatAt: now)
        do {
            let nodes = try store.write { db -> [FaxdNode] in
                try db.heartbeat(me)
                return try db.nodes()
            }
            let alive = nodes.filter { $0.nodeID == me.nodeID || $0.isAlive(now: now, lease: lease) }
            cluster.withLock { $0 = (Set(alive.map(\.instanceID)), Set(alive.map(\.nodeID))) }
            let lost = nodes.filter { !alive.contains($0) }.map(\.nodeID)
            if !lost.isEmpty && now.timeIntervalSince(lastTakeover) >= lease / 2 {
                lastTakeover = now
                try takeOver(from: lost, alive: alive.map(\.nodeID), now: now)
            }
        } catch {
            logger.error("cannot write this node's heartbeat", metadata: ["error": "\(error)"])
        }
    }

    /// Takes over the work of nodes whose heartbeat stopped: their sends queued again, their
    /// voice calls ended, their outbox leases freed, and (by the first live node by name only, so
    /// nothing is counted twice) their receives finished from the TIFFs. Processing queue.
    private func takeOver(from lost: [String], alive: [String], now: Date) throws {
        outbound.recover(now: now, olderThan: .infinity, liveNodes: Set(alive))
        voice.recover(liveNodes: Set(alive), own: false)
        if try store.write({ try $0.releaseOutboxLeases(of: lost) }) > 0 { delivery.poke() }
        if alive.min() == configuration.nodeID { recoverReceives(liveNodes: Set(alive), own: false) }
        // Nodes long dead with nothing left to take over are forgotten, so the take-over stops
        // looking at them (and /admin/status stops listing them).
        // (Never sooner than a node counts as dead: a short forget_dead_node_s with a long
        // node_lease_s would forget a node still alive.)
        let forgetAfter = max(configuration.processing.forgetDeadNodeSeconds, configuration.processing.nodeLeaseSeconds)
        let forgotten = try store.write { try $0.forgetNodes(deadBefore: now.addingTimeInterval(-Double(forgetAfter))) }
        if !forgotten.isEmpty { logger.notice("dead nodes forgotten: their work was all taken over", metadata: ["nodes": "\(forgotten.joined(separator: ","))"]) }
    }

    /// Receives left `transmitting` by a crash: this node's (with `own`) and dead nodes', finished
    /// from their TIFFs with the pages that arrived.
    private func recoverReceives(liveNodes: Set<String>, own: Bool) {
        let ownership = NodeOwnership(me: configuration.nodeID, alive: liveNodes)
        do {
            for t in try store.read({ try $0.transmissions(in: [.transmitting], direction: .inbound) })
            where ownership.isCutOff(t.nodeID, own: own) {
                logger.notice("interrupted receive recovered", metadata: ["uuid": "\(t.uuid)", "node": "\(t.nodeID ?? "-")"])
                inbound.recover(t, node: t.nodeID == configuration.nodeID ? nil : t.nodeID)
            }
        } catch {
            logger.error("receive recovery failed", metadata: ["error": "\(error)"])
        }
    }

    /// Tells the other nodes where this node's API listens (with the next heartbeat).
    public func advertiseAPI(_ address: String) {
        apiAddress.withLock { $0 = address }
        queue.async { [self] in heartbeat(now: Date(), force: true) }
    }

    /// The live node other than this one that carries `nodeID`'s work, if it is alive: where a
    /// command for a call on that node is forwarded. nil for this node, a dead node or no node.
    public func otherLiveNode(_ nodeID: String?) -> FaxdNode? {
        guard let nodeID, nodeID != configuration.nodeID else { return nil }
        guard let node = try? store.read({ try $0.node(id: nodeID) }),
              node.isAlive(now: Date(), lease: Double(configuration.processing.nodeLeaseSeconds)) else { return nil }
        return node
    }

    /// Nodes alive at the last heartbeat (this one included).
    private var liveNodes: Set<String> { cluster.withLock { $0.nodes.union([configuration.nodeID]) } }

    /// Service starts running now on the nodes sharing the database (this one included).
    public var liveInstances: Set<String> { cluster.withLock { $0.instances.union([instanceID]) } }

    private func reloadDirectory() throws {
        directory.reload(from: try store.read { try $0.accounts() })
    }

    /// Receives and sends a crash (or kill -9) cut short.
    private func recover() {
        outbound.recover(liveNodes: liveNodes)
        outbound.archiveSent()
        recoverReceives(liveNodes: liveNodes, own: true)
    }
}

/// The data directory's state as the SIP thread and the API read it (a leaf lock).
final class StorageHealth: Sendable {
    private let state = Mutex<String?>(nil)

    var problem: String? { state.withLock { $0 } }

    /// Sets the problem; returns the one before.
    func update(_ problem: String?) -> String? {
        state.withLock { current in
            defer { current = problem }
            return current
        }
    }
}
