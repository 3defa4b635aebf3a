// The playground page: creates an agent and a conversation through /playground/api/* (loopback only), then talks to
// the agent with parley-client.js over WebRTC. Subtitles come from the room messages (Cmd 3 user, Cmd 4 agent),
// the status from Cmd 6, and the latency split from the message arrival times.
// Every API call carries the per-start token the server embedded in the page (docs/security.md, "Playground").
import { connect } from '/parley-client.js';

const token = document.querySelector('meta[name="parley-playground-token"]')?.content || '';
const demoLlmUrl = 'parley:demo';

async function post(path, body) {
  return fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Parley-Playground-Token': token },
    body: JSON.stringify(body),
  });
}

const $ = id => document.getElementById(id);
const state = { room: null, instanceId: null, agentUserId: null, maxAgentRms: 0, userLine: new Map(), agentLine: new Map(), turns: [] };
window.playground = state;

function log(text) {
  console.log(text);
  $('log').textContent += text + '\n';
  $('log').scrollTop = $('log').scrollHeight;
}

async function api(action, body) {
  const response = await post(`/playground/api/call/${action}`, body);
  if (!response.ok) throw new Error(`${action}: HTTP ${response.status} ${await response.text()}`);
  const result = await response.json();
  if (result.Code !== 0) throw Object.assign(new Error(`${action}: ${result.Code} ${result.Message}`), { code: result.Code });
  return result.Data;
}

async function loadAgents(select) {
  try {
    const data = await api('ListAgents', {});
    const list = $('agentSelect');
    for (const option of [...list.options].slice(1)) option.remove();
    for (const agent of data.Agents || []) {
      const option = new Option(agent.AgentId + (agent.Name ? ` (${agent.Name})` : ''), agent.AgentId);
      list.add(option);
    }
    if (select) list.value = select;
  } catch (e) {
    log(e.message);
  }
}

// With no LLM URL the agent uses Parley's built-in demo LLM, so a first run talks without any LLM server.
async function createAgent() {
  const [engine, voice] = $('ttsVoice').value.split(':');
  const agentId = $('agentId').value.trim();
  const url = $('llmUrl').value.trim() || demoLlmUrl;
  const model = $('llmModel').value.trim() || (url === demoLlmUrl ? 'demo' : '');
  const llm = { Url: url, Model: model, SystemPrompt: $('systemPrompt').value };
  if ($('llmKey').value) llm.ApiKey = $('llmKey').value;
  await api('RegisterAgent', {
    AgentId: agentId, Name: agentId, LLM: llm,
    TTS: { Vendor: 'Local', Params: { engine, voice } },
    ASR: { VADSilenceSegmentation: 500 },
  });
  log(`agent ${agentId} created` + (url === demoLlmUrl ? ' (demo LLM: it repeats what it heard and tells the time)' : ''));
  await loadAgents(agentId);
  return agentId;
}

$('createAgent').onclick = async () => {
  try {
    $('createAgent').disabled = true;
    await createAgent();
  } catch (e) {
    log(e.message);
  } finally {
    $('createAgent').disabled = false;
  }
};

function addLine(kind, text) {
  const line = document.createElement('div');
  line.className = `line ${kind}`;
  line.innerHTML = `<b>${kind === 'user' ? 'You' : 'Agent'}</b><span></span>`;
  line.lastChild.textContent = text;
  $('subtitles').appendChild(line);
  $('subtitles').scrollTop = $('subtitles').scrollHeight;
  return line.lastChild;
}

const statusNames = { 0: 'idle', 1: 'listening', 2: 'thinking', 3: 'speaking' };

function onRoomMessage(message) {
  const now = performance.now();
  const data = message.Data || {};
  switch (message.Cmd) {
    case 1: // user speech start / end (VAD)
      if (data.SpeakStatus === 2) state.turns.push({ userEnded: now });
      break;
    case 3: { // user transcript: full text so far per MessageId
      const span = state.userLine.get(data.MessageId) || addLine('user', '');
      state.userLine.set(data.MessageId, span);
      span.textContent = data.Text;
      const turn = state.turns.at(-1);
      if (data.EndFlag && turn && !turn.transcript) turn.transcript = now;
      break;
    }
    case 4: { // agent text: deltas per MessageId
      if (!data.Text && data.EndFlag) break;
      let span = state.agentLine.get(data.MessageId);
      if (!span) {
        span = addLine('agent', '');
        state.agentLine.set(data.MessageId, span);
        const turn = state.turns.at(-1);
        if (turn && !turn.firstText) turn.firstText = now;
      }
      span.textContent += data.Text;
      break;
    }
    case 6: { // agent status
      const name = statusNames[data.Status] || String(data.Status);
      $('status').textContent = name;
      $('status').className = name;
      const turn = state.turns.at(-1);
      if (data.Status === 3 && turn && !turn.speaking) {
        turn.speaking = now;
        showLatency(turn);
      }
      break;
    }
  }
}

function showLatency(turn) {
  const ms = t => (t ? `${Math.round(t - turn.userEnded)} ms` : '–');
  $('latency').textContent = `last turn, from the agent detecting the end of your speech (Cmd 1): final transcript ${ms(turn.transcript)}, first agent text ${ms(turn.firstText)}, agent speaking ${ms(turn.speaking)}`;
}

function meter(stream) {
  const ctx = new AudioContext();
  ctx.resume();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 2048;
  ctx.createMediaStreamSource(stream).connect(analyser);
  const data = new Float32Array(analyser.fftSize);
  state.audioContext = ctx;
  const tick = () => {
    if (!state.room) return;
    analyser.getFloatTimeDomainData(data);
    let sum = 0;
    for (const v of data) sum += v * v;
    const rms = Math.sqrt(sum / data.length);
    state.maxAgentRms = Math.max(state.maxAgentRms, rms);
    $('meter').firstChild.style.width = `${Math.min(100, rms * 300)}%`;
    setTimeout(tick, 50);
  };
  tick();
}

$('start').onclick = async () => {
  $('start').disabled = true;
  try {
    // Nothing chosen: use the agent of the form, creating it first if it does not exist yet.
    let agentId = $('agentSelect').value;
    if (!agentId) {
      agentId = $('agentId').value.trim();
      try {
        await createAgent();
      } catch (e) {
        if (e.code !== 410001008) throw e; // 410001008: the agent exists already, use it
      }
    }
    const sessionResponse = await post('/playground/api/session', {});
    if (!sessionResponse.ok) throw new Error(`session: HTTP ${sessionResponse.status} ${await sessionResponse.text()}`);
    const session = await sessionResponse.json();
    const userStream = `${session.UserId}_main`;
    const agentStream = `${session.RoomId}_agent`;
    state.agentUserId = `${session.RoomId}_agent`;
    const room = await connect({ appId: session.AppId, token: session.Token, roomId: session.RoomId, userId: session.UserId });
    state.room = room;
    room.onRoomMessage = onRoomMessage;
    room.onClose = () => { if (state.room === room) stop(); };
    const { remoteStream } = await room.publishMicrophone(userStream, { play: agentStream, audioElement: $('agentAudio') });
    meter(remoteStream);
    const data = await api('CreateAgentInstance', {
      AgentId: agentId, UserId: session.UserId,
      RTC: { RoomId: session.RoomId, AgentStreamId: agentStream, AgentUserId: state.agentUserId, UserStreamId: userStream },
    });
    state.instanceId = data.AgentInstanceId;
    log(`conversation ${state.instanceId} in room ${session.RoomId}`);
    $('stop').disabled = false;
    $('status').textContent = 'listening';
    $('status').className = 'listening';
  } catch (e) {
    log(e.message);
    await stop();
  }
};

async function stop() {
  const room = state.room;
  const instanceId = state.instanceId;
  state.room = null;
  state.instanceId = null;
  $('stop').disabled = true;
  $('start').disabled = false;
  $('status').textContent = 'idle';
  $('status').className = '';
  if (instanceId) {
    try { await api('DeleteAgentInstance', { AgentInstanceId: instanceId }); } catch (e) { log(e.message); }
  }
  room?.close();
  state.audioContext?.close();
}

$('stop').onclick = () => stop();
loadAgents();
