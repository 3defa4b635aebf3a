// Parley browser client: the room WebSocket (docs/protocol.md) with WebRTC media (§4a "WebRTC media").
// Plain ES module, no build step. Usage:
//   import { connect } from '/parley-client.js';
//   const room = await connect({ url: 'ws://localhost:8080/rtc/ws', appId, token, roomId, userId });
//   room.onRoomMessage = (message, fromUserId) => { ... };   // message: {Cmd, Data, SeqId, Round, ...}
//   await room.publishMicrophone('user_stream', { play: 'agent_stream', audioElement });
//   ... room.close();
// One connection negotiates WebRTC once: publish and play together through publishMicrophone's `play` option,
// or play only with play(streamId, audioElement).

/** The default room WebSocket URL of the server that served this page. */
export function defaultUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/rtc/ws`;
}

/** LoginResult code: the room lives on another node of the cluster; reconnect to `Redirect` and log in there. */
export const ROOM_ON_ANOTHER_NODE = 30701;

/**
 * Connects and logs in; resolves with a ParleyRoom, rejects with the LoginResult's Code and Message on refusal.
 * In a cluster a node that does not host the room's agent answers 30701 with `Redirect`: the client follows it
 * (closes, connects there, sends the same Login) once, so the caller sees one extra round trip and no error.
 */
export async function connect({ url = defaultUrl(), appId, token, roomId, userId }) {
  const request = { Type: 'Login', AppId: appId, Token: token, RoomId: roomId, UserId: userId };
  let room = new ParleyRoom(url);
  await room._open();
  let login = await room._request(request, 'LoginResult');
  if (login.Code === ROOM_ON_ANOTHER_NODE && isRoomUrl(login.Redirect)) {
    room.close();
    room = new ParleyRoom(login.Redirect);
    room.redirectedFrom = url;
    await room._open();
    login = await room._request(request, 'LoginResult');
  }
  if (login.Code !== 0) {
    room.close();
    throw new ParleyError('Login', login.Code, login.Message);
  }
  room.roomId = roomId;
  room.userId = userId;
  room.streams = new Map((login.Streams || []).map(s => [s.StreamId, s.UserId]));
  room.users = new Set((login.Users || []).map(u => u.UserId));
  return room;
}

/** A redirect target the client follows: a ws: or wss: URL (anything else is refused as the LoginResult it came in). */
function isRoomUrl(text) {
  if (typeof text !== 'string') return false;
  try {
    const url = new URL(text);
    return url.protocol === 'ws:' || url.protocol === 'wss:';
  } catch {
    return false;
  }
}

export class ParleyError extends Error {
  constructor(request, code, message) {
    super(`${request} refused (${code}): ${message}`);
    this.code = code;
    this.request = request;
  }
}

export class ParleyRoom {
  constructor(url) {
    /** The room WebSocket this connection uses (the redirect's target after a cluster redirect). */
    this.url = url;
    /** The URL first asked when the login was redirected to another node, else null. */
    this.redirectedFrom = null;
    /** (message, fromUserId) for each in-room message (agent subtitles, status: see the Cmd table). */
    this.onRoomMessage = null;
    /** (streamId, userId) */
    this.onStreamAdded = null;
    /** (streamId, userId) */
    this.onStreamRemoved = null;
    /** (userId) */
    this.onUserJoined = null;
    /** (userId) */
    this.onUserLeft = null;
    /** ({code, reason}) once the WebSocket closed. */
    this.onClose = null;
    /** (message) for server Error messages. */
    this.onError = null;
    this.pc = null;
    this.microphone = null;
    this._waiters = [];
  }

  _open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`cannot connect to ${this.url}`));
      ws.onmessage = e => { if (typeof e.data === 'string') this._dispatch(JSON.parse(e.data)); };
      ws.onclose = e => {
        this._stopMedia();
        for (const w of this._waiters.splice(0)) w.reject(new Error(`connection closed (${e.code} ${e.reason})`));
        this.onClose?.({ code: e.code, reason: e.reason });
      };
    });
  }

  _dispatch(m) {
    const waiter = this._waiters.findIndex(w => w.type === m.Type);
    if (waiter >= 0) {
      this._waiters.splice(waiter, 1)[0].resolve(m);
      return;
    }
    switch (m.Type) {
      case 'RoomMessage': this.onRoomMessage?.(m.Message, m.FromUserId); break;
      case 'StreamAdded': this.streams?.set(m.StreamId, m.UserId); this.onStreamAdded?.(m.StreamId, m.UserId); break;
      case 'StreamRemoved': this.streams?.delete(m.StreamId); this.onStreamRemoved?.(m.StreamId, m.UserId); break;
      case 'UserJoined': this.users?.add(m.UserId); this.onUserJoined?.(m.UserId); break;
      case 'UserLeft': this.users?.delete(m.UserId); this.onUserLeft?.(m.UserId); break;
      case 'Error': case 'Kicked': this.onError?.(m); break;
    }
  }

  _request(message, replyType, timeoutMs = 15000) {
    return new Promise((resolve, reject) => {
      const waiter = { type: replyType, resolve, reject };
      const timer = setTimeout(() => {
        const i = this._waiters.indexOf(waiter);
        if (i >= 0) this._waiters.splice(i, 1);
        reject(new Error(`no ${replyType} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiter.resolve = m => { clearTimeout(timer); resolve(m); };
      waiter.reject = e => { clearTimeout(timer); reject(e); };
      this._waiters.push(waiter);
      this.ws.send(JSON.stringify(message));
    });
  }

  /**
   * Publishes the microphone (getUserMedia with echo cancellation) to streamId over WebRTC; with options.play, also
   * plays that stream into options.audioElement (or a new Audio element). Resolves with {pc, remoteStream}.
   */
  async publishMicrophone(streamId, { play = null, audioElement = null, constraints = null } = {}) {
    const microphone = await navigator.mediaDevices.getUserMedia(
      { audio: constraints || { echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
    this.microphone = microphone;
    return this._negotiate({ publish: streamId, play, audioElement, microphone });
  }

  /** Plays streamId (e.g. the agent's stream) into audioElement over WebRTC, without publishing. */
  async play(streamId, audioElement = null) {
    return this._negotiate({ publish: null, play: streamId, audioElement, microphone: null });
  }

  async _negotiate({ publish, play, audioElement, microphone }) {
    if (this.pc) throw new Error('WebRTC is already negotiated on this connection (one offer per connection)');
    const pc = new RTCPeerConnection();
    this.pc = pc;
    if (microphone) {
      for (const track of microphone.getAudioTracks()) pc.addTrack(track, microphone);
    } else {
      pc.addTransceiver('audio', { direction: 'recvonly' });
    }
    const remote = new Promise(resolve => {
      pc.ontrack = e => resolve(e.streams[0] || new MediaStream([e.track]));
    });
    await pc.setLocalDescription(await pc.createOffer());
    const offer = { Type: 'WebRtcOffer', Sdp: pc.localDescription.sdp };
    if (publish) offer.PublishStreamId = publish;
    if (play) offer.PlayStreamId = play;
    const answer = await this._request(offer, 'WebRtcAnswer');
    if (answer.Code !== 0) {
      this._stopMedia();
      throw new ParleyError('WebRtcOffer', answer.Code, answer.Message);
    }
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.Sdp });
    const remoteStream = await remote;
    if (play) {
      const element = audioElement || new Audio();
      element.srcObject = remoteStream;
      element.autoplay = true;
      element.play?.().catch(() => { /* autoplay may need a user gesture; the page's button click provides one */ });
      this.audioElement = element;
    }
    this.remoteStream = remoteStream;
    return { pc, remoteStream };
  }

  /** Sends an in-room message (e.g. an agent action) to toUserIds, or to everyone else. */
  sendRoomMessage(message, toUserIds = null) {
    const m = { Type: 'RoomMessage', Message: message };
    if (toUserIds) m.ToUserIds = toUserIds;
    this.ws.send(JSON.stringify(m));
  }

  _stopMedia() {
    this.microphone?.getTracks().forEach(t => t.stop());
    this.microphone = null;
    this.pc?.close();
    this.pc = null;
  }

  /** Leaves the room: stops the microphone, closes the peer and the WebSocket. */
  close() {
    this._stopMedia();
    if (this.ws && this.ws.readyState <= 1) {
      try { this.ws.send(JSON.stringify({ Type: 'Logout' })); } catch { /* closing anyway */ }
      this.ws.close();
    }
  }
}
