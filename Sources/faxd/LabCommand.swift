import ArgumentParser
import Engine
import Foundation
import Lab

struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Recorded fax audio: decode a recording into a T.30 timeline and pages; make fixture recordings.",
        subcommands: [Decode.self, Replay.self, Synthesize.self])

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode a fax recording (WAV 8 kHz mono or stereo, or raw .ulaw/.alaw): tones, T.30 messages with their capabilities, modem training, pages.")
        @Argument(help: "The recording.") var file: String
        @Flag(help: "Print the timeline as JSON.") var json = false
        @Option(help: "Draw the timeline as an SVG ladder diagram into this file.") var svg: String?
        @Option(help: "Write the pages it can recover to this TIFF (default: FILE with .tif).") var tiff: String?

        func run() throws {
            let recording = try Recording.read(file)
            let output = tiff ?? ((file as NSString).deletingPathExtension + ".decoded.tif")
            let result = try LabDecode.run(recording, file: file, tiff: output)
            if result.pages == 0 { unlink(output) }
            print(json ? LabDecode.json(result) : LabDecode.text(result))
            if let svg {
                guard FileManager.default.createFile(atPath: svg, contents: Data(LadderDiagram.svg(result).utf8)) else {
                    throw CLIError("\(svg): cannot write")
                }
            }
        }
    }

    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Call a fax receiver and play a recorded sender's audio into the call in real time; prints the call's outcome as JSON.")
        @Argument(help: "The recording (WAV or raw G.711).") var file: String
        @Option(help: "Where to call: sip:NUMBER@HOST:PORT.") var to: String
        @Option(help: "Which channel holds the sender (the caller): 0 for faxd's own recordings.") var channel: Int = 0
        @Option(name: .customLong("caller-id"), help: "Our number in the From header.") var callerID: String?
        @OptionGroup var engine: EngineOptions

        func run() throws {
            let recording = try Recording.read(file)
            guard recording.channels.indices.contains(channel) else {
                throw ValidationError("--channel: \(file) has \(recording.channels.count) channel(s)")
            }
            let outcome = try OneShotCall.place(to: to, engine: engine) { configuration in
                var fax = OutboundFax(destination: to, document: file, options: configuration.fax.options, callerID: callerID, transport: .g711)
                fax.replay = recording.channels[channel]
                return fax
            }
            print(outcome.prettyJSON)
            if outcome.sipStatus != 200 { throw ExitCode(1) }
        }
    }

    struct Synthesize: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a fax made by faxd's own terminals back to back (stereo WAV: caller on the left, answerer on the right), optionally impaired.")
        @Option(help: "Fax TIFF to send.") var document: String
        @Option(help: "The WAV to write.") var out: String
        @Flag(inversion: .prefixedNo, help: "Error correction mode.") var ecm = true
        @Option(name: .customLong("gain-db"), help: "Gain on both directions in dB (-20 gives about -30 dBm0).") var gainDB: Double = 0
        @Option(name: .customLong("noise-dbm0"), help: "White noise level in dBm0.") var noiseDBm0: Double?
        @Option(help: "Share of 20 ms frames lost in each direction (0.005 = 0.5%).") var loss: Double = 0
        @Option(help: "Seed for noise and loss (the same seed makes the same file).") var seed: UInt64 = 1
        @Flag(help: "Write G.711 A-law samples instead of 16-bit PCM (half the size).") var alaw = false

        func run() throws {
            var impairments = LabSynthesize.Impairments()
            impairments.gainDB = gainDB
            impairments.noiseDBm0 = noiseDBm0
            impairments.loss = loss
            impairments.seed = seed
            let received = (out as NSString).deletingPathExtension + ".received.tif"
            let (recording, sender, receiver) = try LabSynthesize.run(document: document, received: received, ecm: ecm, impairments: impairments)
            unlink(received)
            try recording.write(out, alaw: alaw)
            print("\(out): \(String(format: "%.1f", recording.seconds)) s; sender \(sender.result.name), \(sender.pagesTransferred) pages; receiver \(receiver.result.name), \(receiver.pagesTransferred) pages")
        }
    }
}
