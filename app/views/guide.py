"""Help ▸ Guide and Help ▸ Keyboard shortcuts: what each view shows and which equation draws it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from app.views.marks import math_html

SHORTCUTS = """
<h3>Keyboard</h3>
<table cellpadding="3">
<tr><td><b>Space</b></td><td>Play / pause the reverse run (reverse panel focused; click it first)</td></tr>
<tr><td><b>→ / ←</b></td><td>One recorded frame forward / back (pauses playback)</td></tr>
<tr><td><b>Home / End</b></td><td>First / newest recorded frame</td></tr>
<tr><td><b>← → Home End</b> on the t slider</td><td>Move the forward panel's t (click the slider first)</td></tr>
<tr><td><b>Ctrl+O</b>, <b>Ctrl+V</b></td><td>Open an image, paste an image</td></tr>
<tr><td><b>Ctrl+M</b></td><td>Open a model folder</td></tr>
<tr><td><b>Ctrl+E</b></td><td>Export the reverse run as a GIF</td></tr>
<tr><td><b>F1</b></td><td>The guide: what each view shows and which equation draws it</td></tr>
<tr><td><b>Esc</b></td><td>Close this page or the guide</td></tr>
<tr><td><b>Ctrl+Q</b></td><td>Quit</td></tr>
</table>
<p>Keys act on the panel that has the focus: a click on a panel gives it the focus.</p>
"""

GUIDE = """
<h2>What you are looking at</h2>
<p>Notation of Ho et al. 2020: x<sub>0</sub> the clean image, x<sub>t</sub> the noisy one, ε the noise,
β<sub>t</sub>, α<sub>t</sub> = 1 − β<sub>t</sub>, ᾱ<sub>t</sub> = α<sub>1</sub>⋯α<sub>t</sub>. The paper's t runs
1 … T; t = 0 is the clean image.</p>

<h3>Forward panel — what training sees</h3>
<ul>
<li><b>x<sub>t</sub></b> = √ᾱ<sub>t</sub> x<sub>0</sub> + √(1−ᾱ<sub>t</sub>) ε (Eq. 4): one jump from x<sub>0</sub> to any t.
Training draws a random t and this x<sub>t</sub>, so it needs no loop over t.</li>
<li><b>Step by step</b> builds x<sub>t</sub> by t single steps x<sub>t</sub> = √(1−β<sub>t</sub>) · x<sub>t−1</sub> +
√β<sub>t</sub> ε<sub>t</sub> (Eq. 2) with fresh noise each step. The two agree in distribution, because
N(0, a) + N(0, b) = N(0, a + b). Note the mean is √(1−β<sub>t</sub>) · x<sub>t−1</sub>, not √(1−β<sub>t</sub> x<sub>t−1</sub>);
and x<sub>3</sub> = √α<sub>3</sub> x<sub>2</sub> + √(1−α<sub>3</sub>) ε<sub>3</sub>, which composes to
√(α<sub>1</sub>α<sub>2</sub>α<sub>3</sub>) x<sub>0</sub> + √(1−α<sub>1</sub>α<sub>2</sub>α<sub>3</sub>) ε̄.</li>
<li><b>Why the same t looks noisier at a smaller size.</b> Every pixel gets its own ε, and the eye averages
neighbouring pixels. At 512 px a detail covers many pixels, so their noise averages away and the picture shows
through; at 32² (the model's size) the same detail is one pixel with one draw of noise, and it is hidden. So the
reverse panel's start at t looks like confetti while the forward x<sub>t</sub> at the same t still shows the image:
same ᾱ<sub>t</sub>, same SNR per pixel, less averaging. For the same reason <b>Step by step</b> is computed at the
closed form's own size: computed smaller and enlarged, its grain would be coarser and it would look noisier.</li>
<li><b>Read-outs</b>: √ᾱ<sub>t</sub> (how much image is left), √(1−ᾱ<sub>t</sub>) (how much noise), SNR = ᾱ<sub>t</sub>/(1−ᾱ<sub>t</sub>),
and ᾱ<sub>T</sub>: sampling assumes x<sub>T</sub> is pure noise, so ᾱ<sub>T</sub> should be near 0.</li>
</ul>

<h3>Reverse panel — inference</h3>
<ul>
<li><b>x<sub>t</sub></b>: the chain. DDPM (Algorithm 2): x<sub>t−1</sub> = μ<sub>θ</sub> + σ<sub>t</sub> z with
μ<sub>θ</sub> = (1/√α<sub>t</sub>)(x<sub>t</sub> − β<sub>t</sub>/√(1−ᾱ<sub>t</sub>) · ε̂) (Eq. 11; the factor is 1/√α<sub>t</sub>,
not 1/√ᾱ<sub>t</sub>) and σ<sub>t</sub><sup>2</sup> = β̃<sub>t</sub> or β<sub>t</sub>. DDIM (Song et al. Eq. 12) visits any
number of steps; with η = 0 it is deterministic, so it can also be run backwards.</li>
<li><b>The prediction</b>: the network outputs ε, x<sub>0</sub> or v (the menu marks which). Every other view is
converted from it: x̂<sub>0</sub> = (x<sub>t</sub> − √(1−ᾱ<sub>t</sub>) ε̂)/√ᾱ<sub>t</sub> — one jump straight to the clean
image, beside the step-by-step chain; v̂ = √ᾱ<sub>t</sub> ε̂ − √(1−ᾱ<sub>t</sub>) x̂<sub>0</sub> (Salimans &amp; Ho 2022); the score
s<sub>θ</sub> = −ε̂/√(1−ᾱ<sub>t</sub>): predicting ε is estimating the score. Noise-like maps are shown at ±3σ of
their own scale.</li>
<li><b>The truth</b>: from your image, x<sub>0</sub> is known, and so is ε<sub>true</sub>, the ε that makes
x<sub>t</sub> = √ᾱ<sub>t</sub> x<sub>0</sub> + √(1−ᾱ<sub>t</sub>) ε for the x<sub>t</sub> on show.</li>
<li><b>Playback</b>: the model computes ahead as fast as it can (the light part of the timeline); the frames play
at the pace you choose, so a 10-step and a 1000-step run are both watchable.</li>
</ul>

<h3>Compare runs — are the steps fixed?</h3>
<ul>
<li>Up to four runs leave <b>one</b> x<sub>T</sub> (the same seed) or the same noised image. DDPM takes every one of the
T steps; DDIM (non-Markovian) visits any subset, deterministic at η = 0. The runs advance by fraction of their own
run, so all arrive together: DDPM-1000, DDIM-50 and DDIM-10 from one x<sub>T</sub> end on different, or the same, pictures.</li>
<li><b>The ideal denoiser</b> of a finite set of pictures is the exact minimiser of the DDPM loss:
x̂<sub>0</sub> = E[x<sub>0</sub> | x<sub>t</sub>] = Σ<sub>i</sub> w<sub>i</sub> x<sub>i</sub>, w = softmax<sub>i</sub>(−‖x<sub>t</sub> − √ᾱ<sub>t</sub> x<sub>i</sub>‖² / 2(1−ᾱ<sub>t</sub>)).
Its chain always lands on a training picture: it memorises. Beside it, the trained network shows how much it
generalises instead.</li>
</ul>

<h3>DDIM inversion</h3>
<p>With η = 0 a DDIM step is deterministic, so it can be run upwards: keep x̂<sub>0</sub> and ε̂ and move to the next ᾱ
(Eq. 12 reversed). x<sub>0</sub> → x<sub>T</sub> → x<sub>0</sub> comes back as well as the model's predictions agree along the
path; the PSNR says how well. Inversion is always η = 0, whatever the reverse panel's sampler.</p>

<h3>2-D playground — scores, SDE against ODE, Langevin</h3>
<ul>
<li>In two dimensions the score ∇ log q<sub>t</sub>(x) can be seen: the arrows. Predicting ε is estimating it,
s<sub>θ</sub> = −ε̂/√(1−ᾱ<sub>t</sub>). Train an MLP on moons, a spiral, your image's ink or points you draw, in seconds;
try ε, x<sub>0</sub> and v targets.</li>
<li><b>DDPM</b> is a stochastic path (the reverse SDE): jagged trajectories. <b>DDIM η = 0</b> follows the
probability-flow ODE: smooth paths, the same end for the same start. <b>Annealed Langevin</b> (NCSN, Song &amp; Ermon
2019) walks x ← x + (α/2) s<sub>θ</sub> + √α z at a ladder of noise levels.</li>
<li>For the Gaussian mixture the exact score is known: use it as the model, or draw it (orange) over the learned
one with a map of their relative error.</li>
<li><b>Flow matching</b> (Predicts → velocity; Lipman et al. 2023, Liu et al. 2023): the path is the straight line
x<sub>s</sub> = (1 − s) x<sub>0</sub> + s ε and the network learns its velocity ε − x<sub>0</sub>; Euler or Heun integrate
dx/ds = v̂ from s = 1 to 0. The straightness S = ∫ ‖(X<sub>1</sub> − X<sub>0</sub>) − Ẋ<sub>s</sub>‖² ds is 0 for a straight
path. <b>Reflow</b> trains again on the model's own (noise, sample) pairs: the paths straighten, so two Euler steps
come closer to the data. DDIM is the same sampler: x<sub>t</sub>/(√ᾱ<sub>t</sub> + √(1−ᾱ<sub>t</sub>)) lies on the straight
path at s = √(1−ᾱ<sub>t</sub>)/(√ᾱ<sub>t</sub> + √(1−ᾱ<sub>t</sub>)), and a DDIM step is an Euler step there (Gao et al. 2024);
after a DDIM run the status line gives the largest gap between the two runs.</li>
<li><b>Classifier-free guidance</b> (Ho &amp; Salimans 2021): tick <i>conditional</i>, and the MLP learns ε(x, c) with
the label dropped 20 % of the time, so it also learns ε(x). Sampling uses (1 + w) ε(x, c) − w ε(x), only for t/T
inside the interval if you narrow it (Kynkäänniemi et al. 2024). For the mixture the panel beside the plane
draws p(x | c) p(c | x)<sup>w</sup>, the density guidance is often said to sample: compare it with the samples. They
differ, even with the exact score, because the guided score at t &gt; 0 is not the score of that density
diffused (Chidambaram et al. 2024; Bradley &amp; Nakkiran 2024).</li>
<li><b>Memorisation</b> (Kadkhodaie et al. 2024): train two models on disjoint sets of N points and sample both
from the same noise. At small N each copies its own points (the crosses); at large N both draw the same new
points. The curve beside the plane plots two ratios against N: ρ, a sample's distance to its nearest training
point over a fresh point's (≪ 1 copying, ≈ 1 generalising), and δ, the distance between A's and B's samples over
that between A's and those of A′, a third model trained on A's points with another seed (≫ 1 while each model
draws its own data, ≈ 1 once the data no longer matters). The dashed lines are the stated crossings, ρ = 0.5 and
δ = 2.</li>
</ul>

<h3>What has it learned? — the network beside three closed forms</h3>
<p>The tab takes the reverse run's frame on show and puts the network's x̂<sub>0</sub> beside three denoisers
computed in closed form from the same x<sub>t</sub> and the model's own training set:</p>
<ul>
<li><b>Ideal</b>: E[x<sub>0</sub>|x<sub>t</sub>] over the training images, the exact minimiser of the DDPM loss. It only
ever lands on a training image (memorisation).</li>
<li><b>Gaussian</b>: E[x<sub>0</sub>|x<sub>t</sub>] if the data were N(μ, Σ) with the set's mean and covariance,
μ + √ᾱ Σ(ᾱΣ + (1−ᾱ)I)<sup>−1</sup>(x<sub>t</sub> − √ᾱ μ): a Wiener filter per eigen-direction (Wang &amp; Vastola
2023). Full covariance at 32²; for bigger pictures the stationary one, a Wiener filter per 2-D frequency from the
set's radially averaged spectrum.</li>
<li><b>ELS machine</b> (Kamb &amp; Ganguli 2025): each pixel denoises only its P×P patch, as the ideal denoiser of
all training patches from any position (locality and translation equivariance, what a CNN has); near the border a
patch is compared only with patches at the same offset from the edge. P(t) is calibrated per model
(<code>diffusion-viz theory --calibrate</code>). Its source map colours each pixel by the training image whose patch
weighs most there: a sample is a mosaic of training patches.</li>
</ul>
<p><b>r²</b> = 1 − Σ(y − ŷ)²/Σ(y − ȳ)² over one image's pixels, y the network's x̂<sub>0</sub>, ŷ a theory's. Near 1: the
theory predicts the network pixel by pixel; near 0: no better than a flat image of the right mean. The curves
below draw r²(t) over the whole run; the last pictures are the final sample and its nearest training image.</p>

<h3>Plots</h3>
<ul>
<li>ᾱ<sub>t</sub>, β<sub>t</sub>, β̃<sub>t</sub> = (1−ᾱ<sub>t−1</sub>)/(1−ᾱ<sub>t</sub>) · β<sub>t</sub> (Eq. 7) and log SNR, with the cursor at t.</li>
<li><b>Prediction error</b>: ‖ε̂ − ε<sub>true</sub>‖²/d is the L<sub>simple</sub> term at that t (Eq. 14); RMS(x̂<sub>0</sub> − x<sub>0</sub>).
From pure noise, RMS(x̂<sub>0</sub>(t) − final sample): where each detail commits.</li>
<li><b>The bound per t</b>: L<sub>0</sub> = −log p<sub>θ</sub>(x<sub>0</sub>|x<sub>1</sub>), L<sub>t−1</sub> = KL(q(x<sub>t−1</sub>|x<sub>t</sub>,x<sub>0</sub>) ‖
p<sub>θ</sub>(x<sub>t−1</sub>|x<sub>t</sub>)), L<sub>T</sub> = KL(q(x<sub>T</sub>|x<sub>0</sub>) ‖ N(0, I)) in bits/dim for the forward panel's
image (Eq. 5). Why a bound? log p(x<sub>0</sub>) itself needs an integral over every path; the ELBO splits it into
these terms, each a KL between Gaussians. Training on L<sub>simple</sub> drops the bound's weights
(1−α<sub>t</sub>)²/(2σ<sub>t</sub>² (1−ᾱ<sub>t</sub>) α<sub>t</sub>) in front of each term.</li>
</ul>

<h3>Analysis views (View ▸ Analysis views, F2)</h3>
<ul>
<li><b>Spectrum</b>: the power of x<sub>0</sub>, of x<sub>t</sub>, of x̂<sub>0</sub> and of the noise against frequency, log–log,
for the forward panel's t or the frame on show. Photos fall as about 1/f<sup>α</sup> (α ≈ 2, read out); white noise
is flat at 1−ᾱ<sub>t</sub>. Where ᾱ<sub>t</sub>·P(x<sub>0</sub>) meets the noise is the cut-off: finer detail is drowned
and still to be decided, and the cut-off moves up as t falls — coarse first, fine last (Dieleman 2024).</li>
<li><b>When is it decided?</b>: the frame on show continued K times with fresh noise. What the K pictures share is
decided; a row of t values gives the spread against t and, for emoji, how many keep the same nearest training
emoji — the class flips at a threshold t (Sclocchi et al. 2025).</li>
<li><b>Exposure bias</b>: during sampling the network sees x<sub>t</sub> built from its own guesses. The plot is
var(x<sub>t</sub>) against ᾱ<sub>t</sub>·var(x<sub>0</sub>) + 1 − ᾱ<sub>t</sub>, what q(x<sub>t</sub>|x<sub>0</sub>) gives;
<i>ε scaling</i> divides ε̂ by λ ≈ 1.005 (Ning et al. 2024).</li>
<li><b>Resolution ladder</b>: x<sub>t</sub> averaged over 2×2 and 4×4 pixels. The noise's variance falls by 4 and 16,
a smooth picture's does not: the same t is 4× and 16× cleaner (log SNR + 2 log s, Hoogeboom et al. 2023). This is why
a 512 px picture at t = 400 looks clear while the model's 32 px start is confetti.</li>
</ul>
"""


class TextDialog(QDialog):
    """A read-only page of rich text with a Close button."""

    def __init__(self, title: str, html: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(720, 640)
        self.text = QTextBrowser()
        self.text.setHtml(math_html(html))  # every x̂ and ε̂ in the shipped font, whose hats sit on their letters
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        # The text browser has the focus and would keep Esc to itself: the dialog takes it first.
        close = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        close.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        close.activated.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
