import SidecarProtocol
import Testing

/// The error codes are a published contract: their numbers and names never change.
@Suite("RPCError")
struct RPCErrorTests {
    @Test(
        "codes keep their published numbers and names",
        arguments: [
            (RPCErrorCode.parseError, -32700, "parse_error"),
            (.invalidRequest, -32600, "invalid_request"),
            (.methodNotFound, -32601, "method_not_found"),
            (.invalidParams, -32602, "invalid_params"),
            (.internalError, -32603, "internal_error"),
            (.frameTooLarge, -32001, "frame_too_large"),
            (.serverBusy, -32002, "server_busy"),
            (.timedOut, -32003, "timed_out"),
            (.notFound, -32004, "not_found"),
            (.conflict, -32005, "conflict"),
            (.cancelled, -32006, "cancelled"),
            (.permissionDenied, -32007, "permission_denied"),
        ]
    )
    func codes(code: RPCErrorCode, rawValue: Int, name: String) {
        #expect(code.rawValue == rawValue)
        #expect(code.name == name)
        #expect(code.description == String(rawValue))
        #expect(RPCErrorCode(rawValue: rawValue) == code)
    }

    @Test("an error's JSON has code and message, and data only when there is some")
    func jsonValue() {
        #expect(RPCError(code: .notFound, message: "no such key").jsonValue == ["code": -32004, "message": "no such key"])
        #expect(RPCError(code: .notFound, message: "m", data: nil).jsonValue.objectValue?.keys.contains("data") == false)
        #expect(RPCError(code: .notFound, message: "m", data: ["key": "a"]).jsonValue["data"] == ["key": "a"])
        #expect(RPCError(code: .notFound, message: "m", data: .null).jsonValue.objectValue?.keys.contains("data") == true)
    }

    @Test("an error reads back from its JSON", arguments: [
        RPCError(code: .timedOut, message: "waited 5 s"),
        RPCError(code: .conflict, message: "revision 3 is stale", data: ["current": 4]),
        RPCError(code: RPCErrorCode(rawValue: 12), message: "custom"),
        .methodNotFound("nope"),
        .frameTooLarge(length: 1 << 40, maximum: 16),
    ])
    func readBack(error: RPCError) {
        #expect(RPCError(json: error.jsonValue) == error)
    }

    @Test("an object without a numeric code or a string message is not an error", arguments: [
        ["message": "m"], ["code": 1], ["code": "1", "message": "m"], ["code": 1, "message": 2],
        ["code": 1.5, "message": "m"], "text", nil, [],
    ] as [JSONValue])
    func notAnError(json: JSONValue) {
        #expect(RPCError(json: json) == nil)
    }

    @Test("the helpers carry the right code and say what to do")
    func helpers() {
        #expect(RPCError.parseError("bad").code == .parseError)
        #expect(RPCError.invalidRequest("bad").code == .invalidRequest)
        #expect(RPCError.invalidParams("params.delayMs: expected a number").message.contains("delayMs"))
        #expect(RPCError.internalError("oops").code == .internalError)

        let notFound = RPCError.methodNotFound("sidecar.nope")
        #expect(notFound.code == .methodNotFound)
        #expect(notFound.message.contains("sidecar.nope"))
        #expect(notFound.message.contains("rpc.discover"))
        #expect(notFound.data == ["method": "sidecar.nope"])

        let tooLarge = RPCError.frameTooLarge(length: 4_294_967_295, maximum: 16_777_216)
        #expect(tooLarge.code == .frameTooLarge)
        #expect(tooLarge.message.contains("--max-frame-bytes"))
        #expect(tooLarge.data == ["length": 4_294_967_295, "maximum": 16_777_216])
        #expect(RPCError.frameTooLarge(length: .max, maximum: 1).data?["length"] == .int(.max))

        let busy = RPCError.serverBusy(maximumConnections: 1024)
        #expect(busy.code == .serverBusy)
        #expect(busy.message.contains("--max-connections"))
        #expect(busy.data == ["maximumConnections": 1024])

        let denied = RPCError.permissionDenied(uid: 1001)
        #expect(denied.code == .permissionDenied)
        #expect(denied.message.contains("--allow-uid 1001"))
        #expect(denied.data == ["uid": 1001])
    }

    @Test("description names the code and the message")
    func description() {
        #expect(RPCError(code: .notFound, message: "no such key").description == "error -32004: no such key")
    }
}
