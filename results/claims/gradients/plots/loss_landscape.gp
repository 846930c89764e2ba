set terminal pngcairo size 900,560 font ',11'
set output 'results/claims/gradients/plots/loss_landscape.png.tmp'
set title 'Loss along the gradient: L(w - eta g), eta in {0.25 ... 4} x lr'
set xlabel 'step'
set ylabel 'loss on the probe batch'
set key top right
set grid
plot 'results/claims/gradients/plots/loss_landscape.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'none', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'bn'
