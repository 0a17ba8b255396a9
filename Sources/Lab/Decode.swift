import Fax
import Foundation

/// `faxd lab decode`: runs a recording through `FaxAudioDecoder` in 20 ms steps.
public enum LabDecode {
    public struct Result: Sendable, Codable {
        public var file: String
        public var seconds: Double
        public var channels: Int
        public var events: [LabEvent]
        public var pages: Int
        public var tiff: String?
    }

    public static func run(_ recording: Recording, file: String, tiff: String?) throws(LabError) -> Result {
        let decoder: FaxAudioDecoder
        do { decoder = try FaxAudioDecoder(channelCount: recording.channels.count, tiffPath: tiff) } catch {
            throw LabError("cannot start the decoder: \(error.reason)")
        }
        let length = recording.channels.map(\.count).max() ?? 0
        var start = 0
        while start < length {
            let end = min(length, start + 160)
            for (index, channel) in recording.channels.enumerated() {
                var frame = [Int16](repeating: 0, count: end - start)
                if start < channel.count { for i in start..<min(end, channel.count) { frame[i - start] = channel[i] } }
                frame.withUnsafeBufferPointer { decoder.process(channel: index, samples: $0) }
            }
            start = end
        }
        let events = decoder.finish()
        return Result(file: file, seconds: recording.seconds, channels: recording.channels.count, events: events,
                      pages: decoder.pagesWritten, tiff: decoder.pagesWritten > 0 ? tiff : nil)
    }

    /// One line per event: time, side, what, details.
    public static func text(_ result: Result) -> String {
        var lines = ["\(result.file): \(String(format: "%.1f", result.seconds)) s, \(result.channels) channel\(result.channels == 1 ? "" : "s"), \(result.events.count) events, \(result.pages) page\(result.pages == 1 ? "" : "s") recovered" + (result.tiff.map { " -> \($0)" } ?? "")]
        for event in result.events {
            let side = (event.side ?? "?").padding(toLength: 8, withPad: " ", startingAt: 0)
            let arrow = event.side == "answerer" ? "<-" : "->"
            lines.append(String(format: "%8.3f  ", event.time) + "\(side) \(arrow) \(event.kind.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(event.name)" + (event.detail.map { "  (\($0))" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }

    public static func json(_ result: Result) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return (try? encoder.encode(result)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
