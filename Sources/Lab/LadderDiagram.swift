import Fax
import Foundation

/// The timeline as an SVG ladder diagram: the caller on the left, the answerer on the right, time
/// downwards; each message an arrow across, tones and modem training as labelled marks on the
/// side that sent them, pages as shaded bars.
public enum LadderDiagram {
    public static func svg(_ result: LabDecode.Result) -> String {
        let rowHeight = 22.0, top = 60.0, left = 140.0, right = 560.0, width = 700.0
        let height = top + Double(result.events.count + 1) * rowHeight + 20
        var body = ""
        body += "<text x=\"\(left)\" y=\"30\" text-anchor=\"middle\" font-weight=\"bold\">caller (sender)</text>\n"
        body += "<text x=\"\(right)\" y=\"30\" text-anchor=\"middle\" font-weight=\"bold\">answerer (receiver)</text>\n"
        body += "<line x1=\"\(left)\" y1=\"40\" x2=\"\(left)\" y2=\"\(height - 10)\" stroke=\"#444\" stroke-width=\"2\"/>\n"
        body += "<line x1=\"\(right)\" y1=\"40\" x2=\"\(right)\" y2=\"\(height - 10)\" stroke=\"#444\" stroke-width=\"2\"/>\n"
        for (i, event) in result.events.enumerated() {
            let y = top + Double(i) * rowHeight
            let fromCaller = event.side != "answerer"
            let (x1, x2) = fromCaller ? (left, right) : (right, left)
            body += "<text x=\"10\" y=\"\(y + 4)\" font-size=\"11\" fill=\"#666\">\(String(format: "%.2f s", event.time))</text>\n"
            let label = escape(event.name + (event.detail.map { " (\($0))" } ?? ""))
            switch event.kind {
            case .message:
                let colour = event.name == "DCN" || event.name.hasPrefix("RTN") || event.name.hasPrefix("FTT") || event.name.hasPrefix("PPR") ? "#b00" : "#036"
                body += "<line x1=\"\(x1)\" y1=\"\(y)\" x2=\"\(x2)\" y2=\"\(y)\" stroke=\"\(colour)\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>\n"
                body += "<text x=\"\((left + right) / 2)\" y=\"\(y - 4)\" text-anchor=\"middle\" font-size=\"12\" fill=\"\(colour)\">\(label)</text>\n"
            case .page:
                body += "<rect x=\"\(left)\" y=\"\(y - 9)\" width=\"\(right - left)\" height=\"14\" fill=\"#dfd\" stroke=\"#7a7\"/>\n"
                body += "<text x=\"\((left + right) / 2)\" y=\"\(y + 2)\" text-anchor=\"middle\" font-size=\"12\">\(label)</text>\n"
            case .tone, .training, .data:
                let x = fromCaller ? left + 8 : right - 8
                let anchor = fromCaller ? "start" : "end"
                let colour = event.kind == .tone ? "#850" : "#555"
                body += "<circle cx=\"\(fromCaller ? left : right)\" cy=\"\(y)\" r=\"4\" fill=\"\(colour)\"/>\n"
                body += "<text x=\"\(x)\" y=\"\(y + 4)\" text-anchor=\"\(anchor)\" font-size=\"12\" fill=\"\(colour)\">\(label)</text>\n"
            }
        }
        return """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif">
        <title>\(escape(result.file))</title>
        <defs><marker id="arrow" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="context-stroke"/></marker></defs>
        <rect width="100%" height="100%" fill="white"/>
        \(body)</svg>

        """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
