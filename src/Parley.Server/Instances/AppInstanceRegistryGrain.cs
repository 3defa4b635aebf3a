using Parley.Server.Api;

namespace Parley.Server.Instances;

/// <summary>
/// In-memory registry of an app's live instances. Instances live in the process that hosts their session, so the
/// registry lives exactly as long as they do (a restart ends every instance; nothing to persist).
/// </summary>
[KeepAlive]
internal sealed class AppInstanceRegistryGrain : Grain, IAppInstanceRegistryGrain
{
    private readonly Dictionary<string, (string AgentUserId, string AgentStreamId)> _live = new(StringComparer.Ordinal);

    public Task<ReservationReply> ReserveAsync(InstanceReservation reservation)
    {
        string? kick = null;
        foreach (var (id, ids) in _live)
        {
            if (string.Equals(ids.AgentUserId, reservation.AgentUserId, StringComparison.Ordinal))
            {
                kick = id;
                break;
            }
        }

        foreach (var (id, ids) in _live)
        {
            if (id != kick && string.Equals(ids.AgentStreamId, reservation.AgentStreamId, StringComparison.Ordinal))
            {
                return Task.FromResult(new ReservationReply
                {
                    Code = InstanceCodes.AgentStreamIdInUse,
                    Message = $"RTC.AgentStreamId '{reservation.AgentStreamId}' is already published by running agent instance {id}; stream ids must be unique among running instances",
                });
            }
        }

        var liveAfter = _live.Count - (kick is null ? 0 : 1);
        if (liveAfter >= reservation.MaxInstances)
        {
            return Task.FromResult(new ReservationReply
            {
                Code = ReturnCodes.InstanceConcurrencyLimit,
                Message = $"the app already has {liveAfter} running agent instances (limit {reservation.MaxInstances})",
            });
        }

        if (kick is not null)
        {
            _live.Remove(kick);
        }

        _live[reservation.InstanceId] = (reservation.AgentUserId, reservation.AgentStreamId);
        return Task.FromResult(new ReservationReply { Code = 0, Message = "success", KickInstanceId = kick });
    }

    public Task ReleaseAsync(string instanceId)
    {
        _live.Remove(instanceId);
        return Task.CompletedTask;
    }

    public Task<int> CountAsync() => Task.FromResult(_live.Count);
}
