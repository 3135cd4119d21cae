"""Request and response bodies, with the domain's bounds. Every violation is a 422 naming the field."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nfldeploy.model.features import MAX_PLAYERS, Play, PlayerState

# The field is 0-120 x 0-53.3 yd; a margin allows players just out of bounds.
FIELD_X = Annotated[float, Field(ge=-10.0, le=130.0, description="yards along the field (0-120)")]
FIELD_Y = Annotated[float, Field(ge=-10.0, le=63.3, description="yards across the field (0-53.3)")]
ANGLE = Annotated[float, Field(ge=0.0, le=360.0, description="degrees, 0 = +y, clockwise")]
MAX_HISTORY = 50


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class PriorState(_Strict):
    """A player's position at an earlier frame (oldest first in ``history``)."""

    x: FIELD_X
    y: FIELD_Y


class PlayerIn(_Strict):
    """One player at the current frame."""

    x: FIELD_X
    y: FIELD_Y
    s: float = Field(ge=0.0, le=15.0, description="speed, yd/s")
    a: float = Field(ge=0.0, le=20.0, description="acceleration, yd/s^2")
    dis: float = Field(default=0.0, ge=0.0, le=3.0, description="yards moved since the previous frame")
    o: ANGLE
    dir: ANGLE
    nfl_id: int | None = Field(default=None, ge=0, le=10**9)
    role: int | None = Field(
        default=None,
        ge=0,
        le=4,
        description="0 passer, 1 targeted receiver, 2 route runner, 3 coverage, 4 unknown",
    )
    side: int | None = Field(default=None, ge=0, le=2, description="0 defense, 1 offense, 2 unknown")
    weight: float | None = Field(default=None, ge=100.0, le=450.0, description="pounds")
    history: list[PriorState] = Field(default_factory=list, max_length=MAX_HISTORY)


class GameContext(_Strict):
    """The play's situation."""

    down: int = Field(ge=1, le=4)
    distance: float = Field(ge=0.0, le=100.0, description="yards to go")
    defenders_in_box: int | None = Field(default=None, ge=0, le=11)
    formation: int | None = Field(
        default=None,
        ge=0,
        le=7,
        description="offense formation (training project's ids): 0 SHOTGUN, 1 EMPTY, 2 SINGLEBACK, 3 PISTOL, "
        "4 I_FORM, 5 JUMBO, 6 WILDCAT, 7 unknown (default)",
    )
    alignment: int | None = Field(
        default=None,
        ge=0,
        le=9,
        description="receiver alignment: 0 2x2, 1 3x1, 2 3x2, 3 2x1, 4 4x1, 5 1x1, 6 4x0, 7 3x3, 8 3x0, "
        "9 unknown (default)",
    )


class PredictRequest(_Strict):
    """One play: the deployment guide's request plus optional fields the model can use. nfl_ids must be
    unique within a play, and num_frames_output at most the model's horizon (/version): both 422 otherwise."""

    model_config = ConfigDict(
        json_schema_extra={
            "dependentRequired": {"ball_land_x": ["ball_land_y"], "ball_land_y": ["ball_land_x"]}
        }
    )

    players: list[PlayerIn] = Field(min_length=1, max_length=MAX_PLAYERS)
    game_context: GameContext
    play_direction: Literal["left", "right"] = "right"
    ball_land_x: float | None = Field(default=None, ge=-10.0, le=130.0)
    ball_land_y: float | None = Field(default=None, ge=-10.0, le=63.3)
    num_frames_output: int | None = Field(default=None, ge=1, le=200)
    frame_t: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="where the current frame lies in the play (frame index / frames in the play), for the "
        "training project's model; default 0.5",
    )
    modes: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="return the k most likely trajectories of each player with their sigmas and rho (at "
        "most the model's modes, /version model.modes; 422 beyond). Without it the answer is the most "
        "likely path, its confidence and every mode's probability, and only that path is computed.",
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> PredictRequest:
        ids = [p.nfl_id for p in self.players if p.nfl_id is not None]
        if len(ids) != len(set(ids)):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"duplicate nfl_id values: {duplicates}")
        if (self.ball_land_x is None) != (self.ball_land_y is None):
            raise ValueError("ball_land_x and ball_land_y go together")
        return self

    def to_play(self) -> Play:
        """The feature pipeline's form."""
        return Play(
            players=[
                PlayerState(
                    x=p.x,
                    y=p.y,
                    s=p.s,
                    a=p.a,
                    dis=p.dis,
                    o=p.o,
                    dir=p.dir,
                    weight=p.weight,
                    role=p.role,
                    side=p.side,
                    history=[(h.x, h.y) for h in p.history],
                )
                for p in self.players
            ],
            down=self.game_context.down,
            distance=self.game_context.distance,
            defenders_in_box=self.game_context.defenders_in_box,
            play_direction=self.play_direction,
            ball_land_x=self.ball_land_x,
            ball_land_y=self.ball_land_y,
            formation=self.game_context.formation,
            alignment=self.game_context.alignment,
            frame_t=self.frame_t,
        )


class BatchRequest(_Strict):
    """Many plays, answered by one model call."""

    plays: list[PredictRequest] = Field(min_length=1)


class ModeOut(BaseModel):
    """One predicted trajectory and its probability."""

    mode: int = Field(description="the mode's id (its index in mode_probabilities)")
    probability: float
    positions: list[list[float]]
    sigma_x: list[float] | None = Field(default=None, description="per frame, yards (probabilistic models)")
    sigma_y: list[float] | None = Field(default=None, description="per frame, yards (probabilistic models)")
    rho: list[float] | None = Field(default=None, description="per frame correlation of x and y")


class PlayerPrediction(BaseModel):
    """One player's forecast in absolute field coordinates."""

    player_id: int
    predicted_positions: list[list[float]]
    confidence: float
    mode_probabilities: list[float] | None = Field(
        default=None, description="every mode's probability, by mode id (models with several modes)"
    )
    modes: list[ModeOut] | None = Field(
        default=None, description="the k most likely trajectories, most likely first (requests with modes: k)"
    )


class PredictResponse(BaseModel):
    """The answer to one play."""

    predictions: list[PlayerPrediction]
    horizon_frames: int
    frame_seconds: float
    inference_time_ms: float
    model_version: str
    cached: bool
    zone_coverage_probability: float | None = Field(
        default=None, description="the coverage head's P(zone) (1 zone, 0 man); graph models only"
    )


class BatchResponse(BaseModel):
    """The answers to a batch, in request order."""

    results: list[PredictResponse]
    inference_time_ms: float
    model_version: str


class FieldError(BaseModel):
    """One invalid field of a 422."""

    field: str
    message: str
    type: str


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a message, and for a 422 the invalid fields."""

    code: str
    message: str
    fields: list[FieldError] | None = None


class ErrorResponse(BaseModel):
    """The body of every error the API answers (4xx, 503, 504), with the request's id."""

    error: ErrorDetail
    request_id: str
