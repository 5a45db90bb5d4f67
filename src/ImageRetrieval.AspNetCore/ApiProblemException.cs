using Microsoft.AspNetCore.Http;

namespace ImageRetrieval.AspNetCore;

/// <summary>Ends a request with a problem-details answer from deep inside a helper (caught by <see cref="ApiLimitsFilter"/>).</summary>
internal sealed class ApiProblemException(IResult result) : Exception
{
    public IResult Result { get; } = result;
}
