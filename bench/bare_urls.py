"""One view: answers a JSON-RPC `tools/call` of `echo` the way an MCP server would."""

import json

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def echo(request):
    message = json.loads(request.body)
    text = f"Echo: {message['params']['arguments']['message']}"
    result = {"content": [{"type": "text", "text": text}], "isError": False}
    return JsonResponse({"jsonrpc": "2.0", "id": message["id"], "result": result})


urlpatterns = [path("mcp", echo)]
