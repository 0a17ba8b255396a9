import Fax
import Foundation
import SIP
import Yams

extension FaxdConfiguration {
    /// Loads a YAML file; unknown keys are errors (a typo must not silently fall back to a default).
    public static func load(path: String) throws -> FaxdConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("\(path): cannot read the configuration file")
        }
        let text = String(decoding: data, as: UTF8.self)
        do {
            return try parse(yaml: text)
        } catch let error as ConfigurationError {
            throw ConfigurationError("\(path): \(error.reason)")
        } catch {
            throw ConfigurationError("\(path): not valid YAML (\(error))")
        }
    }

    /// Parses configuration text.
    public static func parse(yaml text: String) throws -> FaxdConfiguration {
        var config = FaxdConfiguration()
        guard let root = try Yams.load(yaml: text) else { return config }
        guard let top = root as? [String: Any] else { throw ConfigurationError("the top level must be a mapping of keys") }
        var reader = Reader(path: "", map: top)
        if let v = try reader.string("data_dir") { config.dataDirectory = v }
        if let v = try reader.string("files_dir") { config.filesDirectoryOverride = v }
        if let v = try reader.string("store") {
            guard v == "sqlite" || v.hasPrefix("sqlite:") || v.hasPrefix("postgres://") || v.hasPrefix("postgresql://") else {
                throw ConfigurationError("store: \"\(v)\" is neither sqlite, sqlite:/path/file nor postgres://user@host:port/database")
            }
            config.store = v
        }
        if let v = try reader.string("node_id") {
            guard (1...32).contains(v.count), v.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw ConfigurationError("node_id: \"\(v)\" must be 1 to 32 letters, digits, '-' or '_'")
            }
            config.nodeID = v
        }
        if var sip = try reader.section("sip") {
            if let listen = try sip.string("listen") {
                let (host, port) = try parseHostPort(listen, key: "sip.listen")
                config.sip.listenHost = host
                config.sip.listenPort = port
            }
            if let v = try sip.string("public_address") { config.sip.publicAddress = v }
            if let v = try sip.string("user_agent") { config.sip.userAgent = v }
            if let v = try sip.int("answer_delay_ms", in: 0...60_000) { config.sip.answerDelayMilliseconds = v }
            if let v = try sip.int("no_answer_timeout_s", in: 1...600) { config.sip.noAnswerTimeoutSeconds = v }
            if let v = try sip.int("session_timer_s", in: 0...86_400) { config.sip.sessionTimerSeconds = v }
            if let v = try sip.int("debug_level", in: 0...9) { config.sip.debugLevel = v }
            if let v = try sip.double("invite_rate_per_source", in: 0...100_000) { config.sip.inviteRatePerSource = v }
            if let v = try sip.int("invite_burst_per_source", in: 1...1_000_000) { config.sip.inviteBurstPerSource = v }
            if let v = try sip.int("tcp_keepalive_s", in: 1...3600) { config.sip.tcpKeepaliveSeconds = v }
            if let v = try sip.strings("domains") { config.sip.domains = v.map { $0.lowercased() } }
            if let v = try sip.int("max_calls", in: 0...1_000_000) { config.sip.maxCalls = v }
            try sip.finish()
        }
        if var media = try reader.section("media") {
            if let v = try media.string("rtp_ports") {
                let range = try parsePortRange(v, key: "media.rtp_ports")
                config.media.rtpPortLow = range.lowerBound
                config.media.rtpPortHigh = range.upperBound
            }
            if let v = try media.int("shards", in: 0...256) { config.media.shards = v }
            if let v = try media.int("jitter_ms", in: 20...200) { config.media.jitterMilliseconds = v }
            if let v = try media.int("silence_timeout_s", in: 1...600) { config.media.silenceTimeoutSeconds = v }
            if let v = try media.int("max_call_s", in: 10...86_400) { config.media.maxCallSeconds = v }
            try media.finish()
        }
        if var fax = try reader.section("fax") {
            if let v = try fax.bool("ecm") { config.fax.ecm = v }
            if let v = try fax.strings("modems") {
                var modems: FaxModems = []
                for name in v {
                    switch name.lowercased() {
                    case "v17": modems.insert(.v17)
                    case "v29": modems.insert(.v29)
                    case "v27ter": modems.insert(.v27ter)
                    default: throw ConfigurationError("fax.modems: '\(name)' is not a modem (expected v17, v29, v27ter)")
                    }
                }
                guard !modems.isEmpty else { throw ConfigurationError("fax.modems: list at least one modem") }
                config.fax.modems = modems
            }
            if let v = try fax.strings("compressions") {
                var set: FaxCompressions = []
                for name in v {
                    switch name.lowercased() {
                    case "t4_1d": set.insert(.t4OneD)
                    case "t4_2d": set.insert(.t4TwoD)
                    case "t6": set.insert(.t6)
                    default: throw ConfigurationError("fax.compressions: '\(name)' is not a compression (expected t4_1d, t4_2d, t6)")
                    }
                }
                guard set.contains(.t4OneD) else { throw ConfigurationError("fax.compressions: t4_1d is mandatory for every fax machine (T.30) and cannot be removed") }
                config.fax.compressions = set
            }
            if let v = try fax.string("station_id") {
                guard v.count <= 20, v.allSatisfy({ $0.isASCII && ($0.isNumber || " +".contains($0) || $0.isLetter) }) else {
                    throw ConfigurationError("fax.station_id: '\(v)' must be at most 20 characters of digits, letters, spaces and + (T.30 TSI/CSI)")
                }
                config.fax.stationID = v
            }
            if let v = try fax.string("header") { config.fax.headerInfo = v }
            if let v = try fax.int("debug_level", in: 0...10) { config.fax.debugLevel = v }
            try fax.finish()
        }
        if var t38 = try reader.section("t38") {
            if let v = try t38.int("redundancy", in: 0...8) { config.t38.redundancy = v }
            if let v = try t38.bool("fec") { config.t38.fec = v }
            if let v = try t38.int("max_datagram", in: 100...1400) { config.t38.maxDatagram = v }
            if let v = try t38.int("max_bit_rate", in: 2400...14400) { config.t38.maxBitRate = v }
            if let v = try t38.int("request_delay_ms", in: 0...30_000) { config.t38.requestDelayMilliseconds = v }
            if let v = try t38.int("silence_timeout_s", in: 1...600) { config.t38.silenceTimeoutSeconds = v }
            try t38.finish()
        }
        if let list = try reader.list("trunks") {
            var trunks: [Trunk] = []
            for (index, item) in list.enumerated() {
                guard let map = item as? [String: Any] else { throw ConfigurationError("trunks[\(index)]: must be a mapping") }
                var t = Reader(path: "trunks[\(index)].", map: map)
                guard let name = try t.string("name"), !name.isEmpty else { throw ConfigurationError("trunks[\(index)].name: required") }
                guard !trunks.contains(where: { $0.name == name }) else { throw ConfigurationError("trunks[\(index)].name: '\(name)' is used twice") }
                var trunk = Trunk(name: name)
                if let sources = try t.strings("inbound_sources") {
                    trunk.inboundSources = try sources.map { (s: String) throws -> AddressRange in
                        do { return try AddressRange(s) } catch { throw ConfigurationError("trunks[\(index)].inbound_sources: \(error)") }
                    }
                }
                trunk.outboundProxy = try t.string("outbound_proxy")
                if let proxy = trunk.outboundProxy, !(proxy.hasPrefix("sip:") || proxy.hasPrefix("sips:")) {
                    throw ConfigurationError("trunks[\(index)].outbound_proxy: '\(proxy)' must be a SIP URI such as sip:198.51.100.10:5060")
                }
                trunk.domain = try t.string("domain")
                trunk.username = try t.string("username")
                trunk.password = try t.string("password")
                trunk.callerID = try t.string("caller_id")
                trunk.maxCalls = try t.int("max_calls", in: 1...100_000)
                if let codecs = try t.strings("codecs") {
                    trunk.codecs = try codecs.map { (c: String) throws -> AudioCodec in
                        switch c.uppercased() {
                        case "PCMU": return .pcmu
                        case "PCMA": return .pcma
                        default: throw ConfigurationError("trunks[\(index)].codecs: '\(c)' is not supported (faxd carries fax over PCMU or PCMA)")
                        }
                    }
                }
                if let v = try t.bool("record") { trunk.record = v }
                if let mode = try t.string("t38") {
                    guard let m = T38Mode(rawValue: mode) else { throw ConfigurationError("trunks[\(index)].t38: '\(mode)' must be off, accept or request") }
                    trunk.t38 = m
                }
                try t.finish()
                trunks.append(trunk)
            }
            config.trunks = trunks
        }
        if var p = try reader.section("processing") {
            if let v = try p.string("catch_all_account") {
                guard let number = PhoneNumber.normalize(v) else { throw ConfigurationError("processing.catch_all_account: \(PhoneNumber.problem(with: v))") }
                config.processing.catchAllAccount = number
            }
            config.processing.sendTrunk = try p.string("send_trunk")
            if let v = try p.int("account_concurrency", in: 1...10_000) { config.processing.accountConcurrency = v }
            if let v = try p.int("node_lease_s", in: 3...3600) { config.processing.nodeLeaseSeconds = v }
            if let v = try p.int("node_max_sends", in: 0...100_000) { config.processing.nodeMaxSends = v }
            if let v = try p.int("forget_dead_node_s", in: 60...31_536_000) { config.processing.forgetDeadNodeSeconds = v }
            if let v = try p.int("scheduler_interval_ms", in: 50...60_000) { config.processing.schedulerIntervalMilliseconds = v }
            if let v = try p.string("plan_limit") {
                guard let policy = PlanLimitPolicy(rawValue: v) else { throw ConfigurationError("processing.plan_limit: '\(v)' must be reject or allow") }
                config.processing.planLimit = policy
            }
            if let v = try p.bool("pdf") { config.processing.pdf = v }
            if let v = try p.int("account_inbound_calls", in: 0...100_000) { config.processing.accountInboundCalls = v }
            if let v = try p.int("min_free_mb", in: 0...10_000_000) { config.processing.minFreeMegabytes = v }
            if let v = try p.int("account_storage_mb", in: 1...10_000_000) { config.processing.accountStorageMegabytes = v }
            if let v = try p.int("upload_expiry_s", in: 1...31_536_000) { config.processing.uploadExpirySeconds = v }
            if var r = try p.section("rates_cents") {
                if let v = try r.int("us_canada", in: 0...100_000) { config.processing.rates.usCanadaCents = v }
                if let v = try r.int("uk", in: 0...100_000) { config.processing.rates.ukCents = v }
                if let v = try r.int("international", in: 0...100_000) { config.processing.rates.internationalCents = v }
                try r.finish()
            }
            if var d = try p.section("destinations") {
                var policy = DestinationPolicy()
                policy.global = try Self.destinationRules(&d, path: "processing.destinations", base: policy.global)
                if var accounts = try d.section("accounts") {
                    for key in accounts.keys {
                        guard let number = PhoneNumber.normalize(key) else {
                            throw ConfigurationError("processing.destinations.accounts: \(PhoneNumber.problem(with: key))")
                        }
                        guard var rules = try accounts.section(key) else { continue }
                        policy.accounts[number] = try Self.destinationRules(&rules, path: "processing.destinations.accounts.\(key)", base: .init())
                        try rules.finish()
                    }
                    try accounts.finish()
                }
                try d.finish()
                config.processing.destinations = policy
            }
            if var r = try p.section("retry") {
                var policy = config.processing.retry
                if let v = try r.int("max_attempts", in: 1...100) { policy.maxAttempts = v }
                for failure in [FailureClass.busy, .noAnswer, .protocol, .congestion] {
                    if let v = try r.int("\(failure.rawValue)_delay_s", in: 0...86_400) { policy.delays[failure] = Double(v) }
                }
                if let v = try r.double("multiplier", in: 1...10) { policy.multiplier = v }
                if let v = try r.int("cap_s", in: 1...604_800) { policy.capSeconds = Double(v) }
                if let v = try r.double("jitter", in: 0...1) { policy.jitter = v }
                if let v = try r.list("final_sip_statuses") {
                    policy.finalSIPStatuses = Set(try v.map { (item: Any) throws -> Int in
                        guard let code = item as? Int, (300...699).contains(code) else {
                            throw ConfigurationError("processing.retry.final_sip_statuses: '\(item)' is not a SIP status 300...699")
                        }
                        return code
                    })
                }
                if let v = try r.strings("ladder") {
                    policy.ladder = try v.map {
                        guard let step = LadderStep(rawValue: $0) else {
                            throw ConfigurationError("processing.retry.ladder: '\($0)' must be ecm_off, v17_off or t38_off")
                        }
                        return step
                    }
                }
                try r.finish()
                config.processing.retry = policy
            }
            try p.finish()
        }
        if var d = try reader.section("delivery") {
            if var m = try d.section("smtp") {
                config.delivery.smtp.host = try m.string("host")
                if let v = try m.int("port", in: 1...65535) { config.delivery.smtp.port = v }
                if let v = try m.string("from") {
                    guard v.contains("@") else { throw ConfigurationError("delivery.smtp.from: '\(v)' is not an email address") }
                    config.delivery.smtp.from = v
                }
                config.delivery.smtp.username = try m.string("username")
                config.delivery.smtp.password = try m.string("password")
                if let v = try m.string("starttls") {
                    guard let mode = SMTPSettings.StartTLS(rawValue: v) else {
                        throw ConfigurationError("delivery.smtp.starttls: '\(v)' must be auto, required or never")
                    }
                    config.delivery.smtp.startTLS = mode
                }
                config.delivery.smtp.caFile = try m.string("ca_file")
                if let v = try m.int("timeout_s", in: 1...600) { config.delivery.smtp.timeoutSeconds = v }
                if let v = try m.string("helo_name") { config.delivery.smtp.heloName = v }
                try m.finish()
                if (config.delivery.smtp.username == nil) != (config.delivery.smtp.password == nil) {
                    throw ConfigurationError("delivery.smtp: username and password go together")
                }
            }
            if let v = try d.int("webhook_timeout_s", in: 1...300) { config.delivery.webhookTimeoutSeconds = v }
            if let v = try d.list("retry_delays_s") {
                let delays = try v.map { (item: Any) throws -> Double in
                    if let i = item as? Int, i >= 0 { return Double(i) }
                    if let d = item as? Double, d >= 0 { return d }
                    throw ConfigurationError("delivery.retry_delays_s: '\(item)' is not a number of seconds")
                }
                guard !delays.isEmpty else { throw ConfigurationError("delivery.retry_delays_s: list at least one delay") }
                config.delivery.retryDelaysSeconds = delays
            }
            if let v = try d.double("jitter", in: 0...1) { config.delivery.jitter = v }
            if let v = try d.int("give_up_after_s", in: 1...31_536_000) { config.delivery.giveUpAfterSeconds = Double(v) }
            if let v = try d.int("disable_after_failures", in: 1...100_000) { config.delivery.disableAfterFailures = v }
            if let v = try d.int("concurrency", in: 1...1000) { config.delivery.concurrency = v }
            if let v = try d.int("account_concurrency", in: 1...1000) { config.delivery.accountConcurrency = v }
            if let v = try d.int("endpoint_concurrency", in: 1...1000) { config.delivery.endpointConcurrency = v }
            if let v = try d.int("max_webhooks_per_account", in: 1...10_000) { config.delivery.maxWebhooksPerAccount = v }
            if let v = try d.int("poll_interval_ms", in: 50...60_000) { config.delivery.pollIntervalMilliseconds = v }
            if let v = try d.bool("allow_private_targets") { config.delivery.allowPrivateTargets = v }
            try d.finish()
        }
        if var h = try reader.section("http") {
            if let listen = try h.string("listen") {
                let (host, port) = try parseHostPort(listen, key: "http.listen")
                config.http.listenHost = host
                config.http.listenPort = port
            }
            config.http.adminToken = try h.string("admin_token")
            if let url = try h.string("public_url") {
                guard url.hasPrefix("http://") || url.hasPrefix("https://"), URL(string: url)?.host != nil else {
                    throw ConfigurationError("http.public_url: '\(url)' is not an http(s) URL such as https://fax.example.com")
                }
                config.http.publicURL = url.hasSuffix("/") ? String(url.dropLast()) : url
            }
            if let token = config.http.adminToken, token.count < 16 {
                throw ConfigurationError("http.admin_token: use at least 16 characters (it guards the admin API)")
            }
            if let v = try h.int("header_timeout_s", in: 1...3600) { config.http.headerTimeoutSeconds = v }
            if let v = try h.int("request_timeout_s", in: 1...86_400) { config.http.requestTimeoutSeconds = v }
            if let v = try h.int("max_connections", in: 1...1_000_000) { config.http.maxConnections = v }
            if let v = try h.int("max_upload_bytes", in: 1024...1_073_741_824) { config.http.maxUploadBytes = v }
            if let v = try h.int("max_pages", in: 1...10_000) { config.http.maxPages = v }
            if let v = try h.double("rate_limit_per_s", in: 0.01...100_000) { config.http.rateLimitPerSecond = v }
            if let v = try h.int("rate_limit_burst", in: 1...1_000_000) { config.http.rateLimitBurst = v }
            if let v = try h.int("conversion_timeout_s", in: 1...3600) { config.http.conversionTimeoutSeconds = v }
            if let v = try h.int("max_conversions", in: 1...256) { config.http.maxConversions = v }
            if let v = try h.int("conversion_wait_s", in: 0...600) { config.http.conversionWaitSeconds = v }
            try h.finish()
        }
        if var v = try reader.section("voice") {
            config.voice.trunk = try v.string("trunk")
            config.voice.mediaDirectory = try v.string("media_dir")
            if let n = try v.int("ring_timeout_s", in: 1...3600) { config.voice.ringTimeoutSeconds = n }
            config.voice.holdMusic = try v.string("hold_music")
            if let n = try v.int("max_dial_timeout_s", in: 1...3600) { config.voice.maxDialTimeoutSeconds = n }
            if let n = try v.int("fax_detect_s", in: 1...120) { config.voice.faxDetectSeconds = n }
            if let n = try v.int("jitter_ms", in: 20...200) { config.voice.jitterMilliseconds = n }
            try v.finish()
        }
        if var s = try reader.section("streaming") {
            if let n = try s.int("max_message_bytes", in: 1024...16 * 1024 * 1024) { config.streaming.maxMessageBytes = n }
            if let n = try s.int("upstream_ms", in: 100...60_000) { config.streaming.upstreamMilliseconds = n }
            if let n = try s.int("playout_ms", in: 20...600_000) { config.streaming.playoutMilliseconds = n }
            if let n = try s.int("stall_timeout_s", in: 1...3600) { config.streaming.stallTimeoutSeconds = n }
            config.streaming.caFile = try s.string("ca_file")
            if let text = try s.string("on_failure") {
                guard let value = StreamingSettings.OnFailure(rawValue: text) else {
                    throw ConfigurationError("streaming.on_failure: '\(text)' must be continue or hangup")
                }
                config.streaming.onFailure = value
            }
            try s.finish()
        }
        if let name = config.voice.trunk, config.trunk(named: name) == nil {
            throw ConfigurationError("voice.trunk: no trunk is named '\(name)'")
        }
        if let name = config.processing.sendTrunk, config.trunk(named: name) == nil {
            throw ConfigurationError("processing.send_trunk: no trunk is named '\(name)'")
        }
        try reader.finish()
        return config
    }

    /// Parses "HOST:PORT" or "[IPv6]:PORT".
    /// `allow_prefixes` and `deny_prefixes` of one rule set (digits; write "000" quoted, YAML
    /// reads an unquoted 000 as the number 0).
    fileprivate static func destinationRules(_ reader: inout Reader, path: String, base: DestinationPolicy.Rules) throws -> DestinationPolicy.Rules {
        var rules = base
        for (key, keyPath) in [("allow_prefixes", \DestinationPolicy.Rules.allowPrefixes), ("deny_prefixes", \.denyPrefixes)] {
            guard let list = try reader.list(key) else { continue }
            rules[keyPath: keyPath] = try list.map { item in
                let text = (item as? String) ?? (item as? Int).map(String.init) ?? ""
                guard let digits = PhoneNumber.normalize(text) else {
                    throw ConfigurationError("\(path).\(key): '\(item)' is not a number prefix (digits, optionally with a leading +)")
                }
                return digits
            }
        }
        return rules
    }

    public static func parseHostPort(_ text: String, key: String) throws -> (String, Int) {
        var host = Substring(text)
        var portText: Substring = ""
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            portText = host[host.index(after: close)...].drop { $0 == ":" }
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.lastIndex(of: ":") {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else {
            throw ConfigurationError("\(key): '\(text)' must be HOST:PORT, for example 127.0.0.1:5060")
        }
        return (String(host), port)
    }

    /// Parses "LOW-HIGH".
    public static func parsePortRange(_ text: String, key: String) throws -> ClosedRange<UInt16> {
        let parts = text.split(separator: "-").map { UInt16($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let low = parts[0], let high = parts[1], low >= 1024, high > low, high - low >= 3 else {
            throw ConfigurationError("\(key): '\(text)' must be LOW-HIGH with 1024 <= LOW < HIGH, for example 20000-29999")
        }
        return low...high
    }
}

/// Reads typed keys from one YAML mapping and remembers which were used, so leftovers can be
/// reported as unknown keys.
private struct Reader {
    let path: String
    let map: [String: Any]
    var used: Set<String> = []

    init(path: String, map: [String: Any]) {
        self.path = path
        self.map = map
    }

    mutating func value(_ key: String) -> Any? {
        used.insert(key)
        guard let v = map[key], !(v is NSNull) else { return nil }
        return v
    }

    mutating func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        if let s = v as? String { return s }
        if let i = v as? Int { return String(i) }
        throw ConfigurationError("\(path)\(key): expected text, found \(v)")
    }

    mutating func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v as? Int else { throw ConfigurationError("\(path)\(key): expected a whole number, found \(v)") }
        guard range.contains(i) else { throw ConfigurationError("\(path)\(key): \(i) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return i
    }

    mutating func double(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let v = value(key) else { return nil }
        let number: Double
        if let d = v as? Double { number = d } else if let i = v as? Int { number = Double(i) } else {
            throw ConfigurationError("\(path)\(key): expected a number, found \(v)")
        }
        guard range.contains(number) else { throw ConfigurationError("\(path)\(key): \(number) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return number
    }

    mutating func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v as? Bool else { throw ConfigurationError("\(path)\(key): expected true or false, found \(v)") }
        return b
    }

    /// The keys of this mapping (an account table's numbers).
    var keys: [String] { map.keys.sorted() }

    mutating func strings(_ key: String) throws -> [String]? {
        guard let v = value(key) else { return nil }
        guard let list = v as? [Any] else { throw ConfigurationError("\(path)\(key): expected a list") }
        return try list.map {
            if let s = $0 as? String { return s }
            throw ConfigurationError("\(path)\(key): expected a list of text, found \($0)")
        }
    }

    mutating func list(_ key: String) throws -> [Any]? {
        guard let v = value(key) else { return nil }
        guard let list = v as? [Any] else { throw ConfigurationError("\(path)\(key): expected a list") }
        return list
    }

    mutating func section(_ key: String) throws -> Reader? {
        guard let v = value(key) else { return nil }
        guard let m = v as? [String: Any] else { throw ConfigurationError("\(path)\(key): expected a mapping of keys") }
        return Reader(path: "\(path)\(key).", map: m)
    }

    func finish() throws {
        let unknown = Set(map.keys).subtracting(used).sorted()
        if let first = unknown.first {
            throw ConfigurationError("\(path)\(first): unknown key (see conf/faxd.example.yaml for the keys faxd reads)")
        }
    }
}
