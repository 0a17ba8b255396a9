import Fax
import Foundation
import SIP
import Yams

/// Everything faxd reads from its YAML configuration file. Every key is optional: a missing file
/// or key means the embedded default (loopback SIP on 127.0.0.1:5060, data in ./faxd-data).
/// conf/faxd.example.yaml documents each key.
public struct FaxdConfiguration: Sendable, Equatable {
    public var dataDirectory = "./faxd-data"
    /// The database: `sqlite` (`<data dir>/faxd.sqlite`), `sqlite:/path/file`, or
    /// `postgres://user:password@host:port/database` shared by several nodes.
    public var store = "sqlite"
    /// This node's name among several sharing one database: it is written on every send this
    /// node dials and every outbox entry it delivers (the lease), and in call ids. Default: the
    /// host name. Letters, digits, '-' and '_', at most 32.
    public var nodeID = FaxdConfiguration.defaultNodeID

    /// The host name up to its first dot, made a valid node id.
    public static var defaultNodeID: String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "faxd"
        let cleaned = String(host.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" }.prefix(32))
        return cleaned.isEmpty ? "faxd" : cleaned
    }
    public var sip = SIPSettings()
    public var media = MediaSettings()
    public var fax = FaxSettings()
    public var t38 = T38Settings()
    public var trunks: [Trunk] = [FaxdConfiguration.loopbackTrunk]
    public var processing = ProcessingSettings()
    public var delivery = DeliverySettings()
    public var http = HTTPSettings()
    public var voice = VoiceSettings()
    /// Media streams to applications over WebSocket (issue 17).
    public var streaming = StreamingSettings()

    public init() {}

    /// The trunk used when no configuration names any: calls from loopback only.
    public static let loopbackTrunk = Trunk(name: "loopback",
                                            inboundSources: [try! AddressRange("127.0.0.0/8"), try! AddressRange("::1")])

    public struct SIPSettings: Sendable, Equatable {
        /// Address and port for SIP over UDP and TCP.
        public var listenHost = "127.0.0.1"
        public var listenPort = 5060
        /// Address written into SDP and Contact when it differs from the listen address (NAT, 0.0.0.0).
        public var publicAddress: String?
        public var userAgent = "faxd/0.1"
        /// Milliseconds between 180 Ringing and 200 OK on inbound calls.
        public var answerDelayMilliseconds = 0
        /// Outbound calls not answered within this many seconds are cancelled (HylaFAX's "no answer").
        public var noAnswerTimeoutSeconds = 60
        /// Session-Expires to ask for (RFC 4028), 0 = none.
        public var sessionTimerSeconds = 0
        /// sofia-sip log level 0...9 to stderr.
        public var debugLevel = 0
        /// INVITEs one source address may send per second on average, and the burst it may save
        /// up; beyond it: 503 with Retry-After. 0 turns the limit off.
        public var inviteRatePerSource = 200.0
        public var inviteBurstPerSource = 400
        /// CRLF keepalive pings on SIP TCP connections this often: they find (and close)
        /// connections whose peer has gone.
        public var tcpKeepaliveSeconds = 30
        /// Hosts faxd answers INVITEs for (Request-URI host, case-insensitive); others get 404.
        /// Empty: any host (the trunk's source address is the gate). The listen and public
        /// addresses always count as ours (a wildcard listen address does not stand for the
        /// machine's own addresses: list them, or set public_address).
        public var domains: [String] = []
        /// Calls this node takes at once (inbound and outbound, any phase); at the limit a new
        /// INVITE gets 503 with Retry-After and OPTIONS answers 503, so a load balancer sends
        /// calls elsewhere. 0: no limit but the RTP port range.
        public var maxCalls = 0
    }

    public struct MediaSettings: Sendable, Equatable {
        /// RTP/UDPTL port range, inclusive; RTP uses the even ports.
        public var rtpPortLow: UInt16 = 20000
        public var rtpPortHigh: UInt16 = 29999
        /// Media shards (serial queues); 0 = one per CPU core.
        public var shards = 0
        /// Fixed jitter buffer depth.
        public var jitterMilliseconds = 60
        /// A call with no media for this long is ended.
        public var silenceTimeoutSeconds = 10
        /// A call longer than this is ended (backstop against stuck sessions).
        public var maxCallSeconds = 3600
    }

    public struct T38Settings: Sendable, Equatable {
        /// Secondary IFPs sent with each UDPTL packet (T.38 Annex A redundancy), 0...8.
        public var redundancy = 3
        /// Offer and, when the far side agrees, send parity FEC instead of redundancy.
        public var fec = false
        /// T38FaxMaxDatagram we announce (what we can receive), 100...1400.
        public var maxDatagram = 400
        /// T38MaxBitRate we announce.
        public var maxBitRate = 14400
        /// With `t38: request`, how long an answered inbound call waits for the sender's CNG before
        /// faxd re-INVITEs to T.38 anyway (the CED goes out meanwhile).
        public var requestDelayMilliseconds = 1000
        /// A T.38 call with no UDPTL for this long is ended. Longer than audio's: T.38 is silent
        /// between T.30 phases.
        public var silenceTimeoutSeconds = 20

        /// Our side of the T.38 SDP negotiation (T.38 Annex D).
        public var localParameters: T38Parameters {
            T38Parameters(version: 0, maxBitRate: maxBitRate, rateManagement: .transferredTCF, maxBuffer: 2000,
                          maxDatagram: maxDatagram, udpErrorCorrection: fec ? .fec : (redundancy > 0 ? .redundancy : .none))
        }
    }

    public struct FaxSettings: Sendable, Equatable {
        public var ecm = true
        public var modems: FaxModems = .all
        public var compressions: FaxCompressions = .all
        public var stationID = "faxd"
        public var headerInfo: String?
        /// spandsp log level (0 none ... 8 debug) to stderr.
        public var debugLevel = 0

        /// The T.30 options these settings describe.
        public var options: FaxOptions {
            FaxOptions(ecm: ecm, modems: modems, compressions: compressions, stationID: stationID,
                       headerInfo: headerInfo, debugLogLevel: debugLevel)
        }
    }

    /// `files_dir`: where faxes and documents live when not in `<data dir>/fax_files` (a directory
    /// every node sharing a database sees at the same path).
    public var filesDirectoryOverride: String?
    /// Received faxes, documents to send, uploads, thumbnails, the archive: `<data dir>/fax_files`
    /// or `files_dir`.
    public var filesDirectory: String { filesDirectoryOverride ?? dataDirectory + "/fax_files" }

    /// Where received TIFFs go instead of the data directory (`faxd receive --out`).
    public var receiveDirectoryOverride: String?
    /// Directory for received TIFFs: `<data dir>/fax_files/rx`.
    public var receiveDirectory: String { receiveDirectoryOverride ?? filesDirectory + "/rx" }
    /// Directory for documents queued to send: `<data dir>/fax_files/tx`.
    public var transmitDirectory: String { filesDirectory + "/tx" }
    /// Directory for documents uploaded through the API before sending: `<data dir>/fax_files/uploads`.
    public var uploadDirectory: String { filesDirectory + "/uploads" }
    /// Directory for page thumbnails: `<data dir>/fax_files/thumbs`.
    public var thumbnailDirectory: String { filesDirectory + "/thumbs" }
    /// Directory for archived documents: `<data dir>/fax_files/archive`.
    public var archiveDirectory: String { filesDirectory + "/archive" }


    /// The trunk named `name`.
    public func trunk(named name: String) -> Trunk? { trunks.first { $0.name == name } }

    /// The first trunk whose ACL admits `address`.
    public func trunk(admitting address: String) -> Trunk? { trunks.first { $0.allows(source: address) } }
}

/// A configuration problem, naming the key and what is expected.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
