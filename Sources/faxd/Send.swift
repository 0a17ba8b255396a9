import ArgumentParser
import Engine
import Fax
import Foundation

struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send one fax and print its outcome as JSON; exit 0 only when every page was confirmed.")

    enum Transport: String, ExpressibleByArgument, CaseIterable {
        /// Audio first, then ask for T.38; a refusal keeps the fax in audio.
        case auto
        /// Audio only.
        case g711
        /// T.38 from the first INVITE.
        case t38
    }

    @Option(help: "Destination: sip:NUMBER@HOST:PORT, or a number with --trunk.")
    var to: String

    @Option(help: "Multi-page fax TIFF to send (1728 pixels wide, bilevel).")
    var file: String

    @Option(help: "Trunk from the configuration to send through.")
    var trunk: String?

    @Option(help: "Media transport: auto (audio, then re-INVITE to T.38), g711 (audio only), t38 (T.38 from the INVITE).")
    var transport: Transport = .auto

    @Option(name: .customLong("station-id"), help: "Our station identifier (TSI), up to 20 characters.")
    var stationID: String?

    @Option(help: "Page header line printed on each page.")
    var header: String?

    @Option(name: .customLong("caller-id"), help: "Our number in the From header.")
    var callerID: String?

    @Flag(inversion: .prefixedNo, help: "Error correction mode.")
    var ecm = true

    @OptionGroup var engine: EngineOptions

    func run() throws {
        let outcome = try OneShotCall.place(to: to, engine: engine) { configuration in
            var options = configuration.fax.options
            options.ecm = ecm
            if let stationID { options.stationID = stationID }
            if let header { options.headerInfo = header }
            return OutboundFax(destination: to, trunk: trunk, document: file, options: options,
                               callerID: callerID, transport: OutboundFax.Transport(rawValue: transport.rawValue)!)
        }
        print(outcome.prettyJSON)
        if !(outcome.success && outcome.pagesTransferred > 0 && outcome.pagesTransferred == outcome.pagesTotal) {
            throw ExitCode(1)
        }
    }

    static func destinationHost(_ uri: String) -> String? {
        guard uri.hasPrefix("sip:") else { return nil }
        var rest = Substring(uri.dropFirst(4))
        if let at = rest.firstIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if let semi = rest.firstIndex(of: ";") { rest = rest[..<semi] }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") { return String(rest[rest.index(after: rest.startIndex)..<close]) }
        if let colon = rest.firstIndex(of: ":") { rest = rest[..<colon] }
        return String(rest)
    }
}
