import numpy as np
import pytest
import soundfile as sf

from affectbench.audio import load
from affectbench.errors import MediaError


def tone(sr, seconds=1.0, channels=1):
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t).astype(np.float32)
    return np.stack([x] * channels, 1) if channels > 1 else x


@pytest.mark.parametrize("sr,channels", [(16000, 1), (48000, 2), (22050, 1), (44100, 2)])
def test_rates_and_channels_are_resampled_not_refused(tmp_path, sr, channels):
    p = tmp_path / f"a_{sr}_{channels}.wav"
    sf.write(p, tone(sr, 1.0, channels), sr)
    x = load(p, 16000)
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - 16000) <= 2
    # the 220 Hz tone survives resampling: dominant FFT bin at 220 Hz
    f = np.fft.rfftfreq(len(x), 1 / 16000)[np.abs(np.fft.rfft(x)).argmax()]
    assert abs(f - 220) < 2


def test_segment_times(tmp_path):
    p = tmp_path / "a.wav"
    sf.write(p, tone(16000, 2.0), 16000)
    assert len(load(p, 16000, start=0.5, end=1.5)) == 16000


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match=r"nope\.wav: file not found"):
        load(tmp_path / "nope.wav")


def test_truncated_wav_is_reported(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, tone(16000, 1.0), 16000, subtype="PCM_16")
    data = good.read_bytes()
    bad = tmp_path / "cut.wav"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match=r"cut\.wav: truncated WAV"):
        load(bad)


def test_corrupt_and_empty_files(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF" + bytes(range(256)) * 4)
    with pytest.raises(MediaError, match=r"junk\.wav: cannot decode audio"):
        load(junk)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty\.wav: empty file"):
        load(empty)
    zero = tmp_path / "zero.wav"
    sf.write(zero, np.zeros(0, np.float32), 16000)
    with pytest.raises(MediaError, match=r"zero\.wav: zero-length audio"):
        load(zero)
